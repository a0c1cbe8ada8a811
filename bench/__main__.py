"""`make bench`: generate a large platform on PostgreSQL, then measure pages, the audit and the sweep.

    .venv/bin/python -m bench [--scale 0.2] [--overdue 3000] [--duration 5] [--skip-sweep] [--reuse]

Pages are measured as gunicorn serves them with shared Redis caches, as in production (a user's own pages come
from the cache until something they see changes); the first-view column is the same page timed in this process
with every cache emptied, as after a change. Every speed is a ratio to a ceiling measured in the same run, next to
it, on the same machine:
pages against a minimal login-required one-query view served by the same gunicorn (2 sync workers,
DEBUG=0) under `wrk -c8`; the sweep against a loop of single-row committed UPDATEs. Other people's
processes share the CPU, so absolute numbers move from run to run; the ratios move much less.
"""

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
LUA = Path(__file__).resolve().parent / "wrk_report.lua"


def parse_args(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--scale",
        type=float,
        default=float(os.environ.get("BENCH_SCALE", "0.2")),
        help="dataset size; 1.0 = 5,000 users, 20,000 contracts, 100,000 milestones, 500,000 messages",
    )
    parser.add_argument(
        "--overdue",
        type=int,
        default=int(os.environ.get("BENCH_OVERDUE", "3000")),
        help="overdue milestones generated for the sweep",
    )
    parser.add_argument(
        "--duration",
        type=int,
        default=int(os.environ.get("BENCH_DURATION", "5")),
        help="seconds of wrk per page (and per ceiling run)",
    )
    parser.add_argument("--sweep-seconds", type=int, default=90, help="time limit of each sweep phase")
    parser.add_argument("--reuse", action="store_true", help="keep the existing dataset (skip generation)")
    parser.add_argument("--skip-sweep", action="store_true")
    parser.add_argument("--port", type=int, default=int(os.environ.get("BENCH_PORT", "8765")))
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    return parser.parse_args(argv)


def setup_environment() -> str:
    database = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/bench")
    os.environ["DATABASE_URL"] = database
    os.environ["DJANGO_SETTINGS_MODULE"] = "bench.settings"
    os.environ["DEBUG"] = "0"
    os.environ.setdefault("CELERY_BROKER_URL", os.environ.get("BENCH_BROKER_URL", "redis://127.0.0.1:6379/14"))
    sys.path.insert(0, str(ROOT))
    return database


def compile_bytecode() -> None:
    """Write the project's bytecode first, as the image does (deploy/Containerfile): where PYTHONDONTWRITEBYTECODE is
    set (this machine's shell sets it), every process the benchmark starts would otherwise compile the project's
    modules again (~0.2 s of escrow_audit's 2 s here)."""
    import compileall

    for package in sorted(path for path in ROOT.iterdir() if (path / "__init__.py").exists()):
        compileall.compile_dir(package, quiet=1)
    compileall.compile_file(ROOT / "manage.py", quiet=1)


def recreate_database(url: str) -> None:
    import psycopg

    name = url.rsplit("/", 1)[1]
    admin = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}"')


def run_measured(command: list[str]) -> dict:
    started = time.perf_counter()
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    return {
        "seconds": time.perf_counter() - started,
        "returncode": result.returncode,
        "stdout": result.stdout,
        "stderr": result.stderr,
    }


def audit(label: str, *, full: bool = False) -> dict:
    """`manage.py escrow_audit` in its own process: seconds and peak RSS (MB, from /usr/bin/time). `full`: every
    posting summed again (--full); otherwise only those since the last audit (what a periodic audit does)."""
    command = ["/usr/bin/time", "-f", "MAXRSS_KB=%M", str(VENV_BIN / "python"), "manage.py", "escrow_audit"]
    command += ["--full"] if full else []
    result = run_measured(command)
    match = re.search(r"MAXRSS_KB=(\d+)", result["stderr"])
    ok = result["returncode"] == 0
    print(
        f"  audit ({label}): {'clean' if ok else 'VIOLATIONS'} in {result['seconds']:.2f} s, "
        f"{int(match.group(1)) / 1024 if match else -1:.0f} MB peak"
    )
    if not ok:
        print(result["stderr"][-3000:])
    return {
        "ok": ok,
        "seconds": round(result["seconds"], 2),
        "peak_mb": round(int(match.group(1)) / 1024, 1) if match else None,
        "output": (result["stdout"] + result["stderr"])[-500:],
    }


# --- pages ---


def pages_to_measure():
    """(name, viewer email or None, url, key page?) for every page the issue names."""
    from contracts.models import Contract, Milestone
    from messaging.models import Thread

    big = Contract.objects.order_by("pk").first()
    milestone = Milestone.objects.filter(contract=big, state=Milestone.State.SUBMITTED).order_by("pk").first()
    milestone = milestone or big.milestones.order_by("pk").first()
    heavy_thread = Thread.objects.order_by("pk").first()
    client, freelancer, staff = "client@bench.test", "freelancer@bench.test", "admin@bench.test"
    return [
        ("landing", None, "/", True),
        ("directory", None, "/freelancers/", True),
        ("directory search", client, "/freelancers/?q=django", True),
        ("dashboard", client, "/dashboard/", True),
        ("contract list", client, "/contracts/", False),
        ("contract (50 milestones)", client, f"/contracts/{big.pk}/", True),
        ("milestone", client, f"/contracts/{big.pk}/milestones/{milestone.pk}/", True),
        ("thread", client, f"/messages/{heavy_thread.pk}/", True),
        ("inbox", client, "/messages/", True),
        ("badges", client, "/messages/badges/", False),
        ("wallet", freelancer, "/wallet/", True),
        ("statement CSV", freelancer, "/wallet/statement.csv", False),
        ("admin: entries", staff, "/admin/escrow/entry/", False),
        ("admin: postings", staff, "/admin/escrow/posting/", False),
        ("admin: milestones", staff, "/admin/contracts/milestone/", False),
        ("admin: messages", staff, "/admin/messaging/message/", False),
        ("admin: contract page", staff, f"/admin/contracts/contract/{big.pk}/change/", False),
    ]


def sessions_and_query_counts(pages) -> tuple[dict, dict, dict]:
    """Log each viewer in once (a real session row, its cookie for wrk); count each page's queries and time it in
    this process on a first visit (every cache emptied: what the first view after a change costs)."""
    from django.core.cache import caches
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from marketplace.models import User
    from marketplace.tests.second_factor import SecondFactorClient  # staff sign in with their second factor

    def first_visit(client, url):
        for cache in caches.all():
            cache.clear()
        started = time.perf_counter()
        response = client.get(url)
        if hasattr(response, "streaming_content"):
            b"".join(response.streaming_content)
        return response, (time.perf_counter() - started) * 1000

    cookies, counts, cold_ms = {}, {}, {}
    clients = {}
    for email in {viewer for _, viewer, _, _ in pages if viewer} | {"client@bench.test"}:
        client = SecondFactorClient()
        client.force_login(User.objects.get(email=email))
        clients[email] = client
        cookies[email] = client.cookies["sessionid"].value
    for name, viewer, url, _key in pages:
        client = clients[viewer] if viewer else Client()
        client.get(url)  # warm what a running process has warm (imports, templates, connections)
        with CaptureQueriesContext(connection) as queries:
            response, _ms = first_visit(client, url)
        if response.status_code != 200:
            raise SystemExit(f"{name} ({url}) answered {response.status_code}")
        counts[name] = len(queries)
        cold_ms[name] = round(sorted(first_visit(client, url)[1] for _ in range(5))[2], 1)  # the median of 5
    for cache in caches.all():
        cache.clear()
    return cookies, counts, cold_ms


def start_gunicorn(port: int) -> subprocess.Popen:
    command = [
        str(VENV_BIN / "gunicorn"),
        "marketplace.wsgi",
        "--workers",
        "2",
        "--worker-class",
        "sync",
        "--bind",
        f"127.0.0.1:{port}",
        "--log-level",
        "warning",
        "--timeout",
        "120",
    ]
    process = subprocess.Popen(command, cwd=ROOT, start_new_session=True)
    for _ in range(100):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2)
            return process
        except OSError:
            time.sleep(0.3)
    stop(process)
    raise SystemExit("gunicorn did not start")


def stop(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=20)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        os.killpg(process.pid, signal.SIGKILL)


def wrk(port: int, url: str, cookie: str | None, duration: int) -> dict:
    command = [
        "wrk",
        "-t2",
        "-c8",
        f"-d{duration}s",
        "--timeout",
        "30s",
        "-s",
        str(LUA),
        f"http://127.0.0.1:{port}{url}",
    ]
    if cookie:
        command[1:1] = ["-H", f"Cookie: sessionid={cookie}"]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    line = next(line for line in output.splitlines() if line.startswith("BENCH "))
    return json.loads(line[len("BENCH ") :])


def measure_pages(args, pages, cookies, counts, cold_ms) -> list[dict]:
    process = start_gunicorn(args.port)
    rows = []
    try:
        ceiling_cookie = cookies["client@bench.test"]
        for name, viewer, url, key in pages:
            ceiling = wrk(args.port, "/bench/ceiling/", ceiling_cookie, args.duration)
            page = wrk(args.port, url, cookies.get(viewer), args.duration)
            row = {
                "page": name,
                "key": key,
                "queries": counts[name],
                "first_view_ms": cold_ms[name],
                "rps": round(page["rps"], 1),
                "ceiling_rps": round(ceiling["rps"], 1),
                "ratio": round(page["rps"] / ceiling["rps"], 3) if ceiling["rps"] else 0,
                "p95_ms": round(page["p95_us"] / 1000, 1),
                "errors": page["errors"],
            }
            rows.append(row)
            print(
                f"  {name:26} {row['rps']:8.1f} req/s  ceiling {row['ceiling_rps']:7.1f}  ratio {row['ratio']:.3f}  "
                f"p95 {row['p95_ms']:7.1f} ms  {row['queries']} queries  first view {row['first_view_ms']} ms"
            )
    finally:
        stop(process)
    return rows


# --- the sweep ---


def single_row_ceiling(n: int = 3000) -> float:
    """Committed single-row UPDATEs a second on this database, right now."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE IF NOT EXISTS bench_counter (id int PRIMARY KEY, n bigint NOT NULL)")
        cursor.execute("INSERT INTO bench_counter VALUES (1, 0) ON CONFLICT DO NOTHING")
        started = time.perf_counter()
        for _ in range(n):
            cursor.execute("UPDATE bench_counter SET n = n + 1 WHERE id = 1")  # autocommit: one commit each
        return n / (time.perf_counter() - started)


def overdue_left() -> int:
    from django.utils import timezone

    from contracts.models import Submission

    return Submission.objects.filter(status=Submission.Status.PENDING, review_deadline__lte=timezone.now()).count()


def overdue_beyond(n: int) -> bool:
    """Whether more than `n` overdue milestones are left. Reads at most n + 1 entries of the pending-deadline index:
    the phases poll ten times a second, on the machine under test, and a full count (`overdue_left`) reads every
    pending one (~15 ms at 100,000)."""
    from django.utils import timezone

    from contracts.models import Submission

    pending = Submission.objects.filter(status=Submission.Status.PENDING, review_deadline__lte=timezone.now())
    return bool(pending.order_by("review_deadline").values_list("pk")[n : n + 1])


def sweep_profile(sample: int = 100) -> dict:
    """Queries and Python time per release, in this process, on one batch of `sample` overdue milestones
    (after a warm-up batch: the first one also imports the URL configuration, as a worker does once)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from contracts import services

    services.release_overdue(batch_size=5)
    before = overdue_left()
    started, cpu = time.perf_counter(), time.process_time()
    with CaptureQueriesContext(connection) as queries:
        services.release_overdue(batch_size=sample)
    released = before - overdue_left()
    return {
        "released": released,
        "queries_per_release": round(len(queries) / max(1, released), 1),
        "ms_per_release": round((time.perf_counter() - started) * 1000 / max(1, released), 1),
        "python_ms_per_release": round((time.process_time() - cpu) * 1000 / max(1, released), 1),
    }


def rss_mb(pid: int) -> float:
    total = 0
    for child in [pid, *_children(pid)]:
        try:
            text = Path(f"/proc/{child}/status").read_text()
        except OSError:
            continue
        total += int(re.search(r"VmRSS:\s+(\d+)", text).group(1))
    return round(total / 1024, 1)


def _children(pid: int) -> list[int]:
    try:
        found = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return []
    return [int(child) for child in found]


def start_workers(workers: int, queue: str) -> list[subprocess.Popen]:
    return [
        subprocess.Popen(
            [
                str(VENV_BIN / "celery"),
                "-A",
                "marketplace",
                "worker",
                "--pool",
                "solo",
                "--loglevel",
                "warning",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                "-Q",
                queue,
                "-n",
                f"bench-{queue}-{i}@%h",
            ],
            cwd=ROOT,
            start_new_session=True,
        )
        for i in range(workers)
    ]


def sweep_phase(workers: int, stop_at_left: int, seconds: int) -> dict:
    """Start `workers` Celery workers (one process each) on the default queue, kick the sweep task once (as
    beat does), and time how fast the overdue milestones go. The fan-out it causes waits on its own queue
    (settings.CELERY_NOTIFICATIONS_QUEUE) for `fan_out_phase`."""
    from marketplace.celery import app

    app.control.purge()
    processes = start_workers(workers, app.conf.task_default_queue)
    try:
        time.sleep(4)  # workers connect
        memory_start = sum(rss_mb(p.pid) for p in processes)
        start_left = overdue_left()
        started = time.perf_counter()
        # One kick, as beat sends it: the task itself spreads the backlog over chains (RELEASE_SWEEP_CHAINS).
        app.send_task("contracts.tasks.release_overdue_milestones", kwargs={})
        left, peak = start_left, memory_start
        # Polled ten times a second: a phase lasts only seconds now, and polling once a second added up to a
        # second (~15 % of a 7-second phase) to the time measured. The poll reads no more than it must.
        while overdue_beyond(stop_at_left) and time.perf_counter() - started < seconds:
            time.sleep(0.1)
            peak = max(peak, sum(rss_mb(p.pid) for p in processes))
        elapsed = time.perf_counter() - started
        left = overdue_left()
    finally:
        for process in processes:
            stop(process)
        app.control.purge()
    released = start_left - left
    return {
        "workers": workers,
        "released": released,
        "seconds": round(elapsed, 1),
        "per_second": round(released / elapsed, 1),
        "worker_rss_start_mb": memory_start,
        "worker_rss_peak_mb": peak,
    }


def fan_out_phase(workers: int, seconds: int) -> dict:
    """Workers on the notifications queue deliver what the sweep left there (notifications, emails,
    transfers): how long until the queue is empty and every email sent."""
    import redis
    from django.conf import settings

    from messaging.models import OutboundEmail

    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    queue = settings.CELERY_NOTIFICATIONS_QUEUE
    waiting = OutboundEmail.objects.filter(status=OutboundEmail.Status.QUEUED)
    tasks_before, sent_before = broker.llen(queue), OutboundEmail.objects.filter(status="sent").count()
    processes = start_workers(workers, queue)
    try:
        started = time.perf_counter()
        while time.perf_counter() - started < seconds and (broker.llen(queue) or waiting.exists()):
            time.sleep(1)
        elapsed = time.perf_counter() - started
        peak = sum(rss_mb(p.pid) for p in processes)
    finally:
        for process in processes:
            stop(process)
    sent = OutboundEmail.objects.filter(status="sent").count() - sent_before
    return {
        "workers": workers,
        "tasks": tasks_before,
        "tasks_left": broker.llen(queue),
        "emails_sent": sent,
        "seconds": round(elapsed, 1),
        "emails_per_second": round(sent / elapsed, 1),
        "worker_rss_mb": peak,
    }


def measure_sweep(args) -> dict:
    # The fan-out measured is this run's: tasks an earlier run left on the notifications queue are dropped.
    import redis
    from django.conf import settings

    redis.Redis.from_url(settings.CELERY_BROKER_URL).delete(settings.CELERY_NOTIFICATIONS_QUEUE)
    # The commit loop's speed drifts on this kind of machine (1,400-2,450/s within minutes, on a quiet machine): it
    # is measured before, between and after the phases, and the phases are compared with the median of the three.
    ceilings = [single_row_ceiling()]
    profile = sweep_profile()
    left = overdue_left()
    one = sweep_phase(1, stop_at_left=left // 2, seconds=args.sweep_seconds)
    ceilings.append(single_row_ceiling())
    two = sweep_phase(2, stop_at_left=0, seconds=args.sweep_seconds)
    ceilings.append(single_row_ceiling())
    ceiling = sorted(ceilings)[1]
    fan_out = fan_out_phase(2, seconds=args.sweep_seconds * 2)
    result = {
        "single_row_commits_per_second": round(ceiling, 1),
        "single_row_commits_per_second_measured": [round(each, 1) for each in ceilings],
        "profile": profile,
        "one_worker": one,
        "two_workers": two,
        "fan_out": fan_out,
        "ratio_one_worker": round(one["per_second"] / ceiling, 3),
        "ratio_per_worker_two": round(two["per_second"] / 2 / ceiling, 3),
        "minutes_for_100k_two_workers": round(100_000 / max(0.1, two["per_second"]) / 60, 1),
    }
    print(
        f"  single-row commits: {ceiling:.0f}/s (median of {', '.join(f'{each:.0f}' for each in ceilings)}); "
        f"per release: {profile['queries_per_release']} queries, "
        f"{profile['python_ms_per_release']} ms Python"
    )
    for phase in (one, two):
        print(
            f"  {phase['workers']} worker(s): {phase['released']} released in {phase['seconds']} s = "
            f"{phase['per_second']}/s; worker RSS {phase['worker_rss_start_mb']} -> {phase['worker_rss_peak_mb']} MB"
        )
    print(
        f"  fan-out, {fan_out['workers']} workers: {fan_out['tasks']} tasks, {fan_out['emails_sent']} emails in "
        f"{fan_out['seconds']} s = {fan_out['emails_per_second']} emails/s ({fan_out['tasks_left']} tasks left)"
    )
    return result


def table(results: dict) -> str:
    lines = [
        f"Dataset: scale {results['scale']} ({results['rows']}).",
        "",
        "| page | queries | req/s | ceiling req/s | req/s ÷ ceiling | p95 ms | first view ms |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in results["pages"]:
        lines.append(
            f"| {row['page']} | {row['queries']} | {row['rps']} | {row['ceiling_rps']} | {row['ratio']} | "
            f"{row['p95_ms']} | {row['first_view_ms']} |"
        )
    audit_result, full = results["audit"], results.get("audit_full") or results["audit"]
    lines += [
        "",
        f"escrow_audit: {audit_result['seconds']} s, {audit_result['peak_mb']} MB peak, "
        f"{'clean' if audit_result['ok'] else 'VIOLATIONS'} (--full, every posting summed again: {full['seconds']} s, "
        f"{full['peak_mb']} MB)",
    ]
    sweep = results.get("sweep")
    if sweep:
        measured = ", ".join(str(round(each)) for each in sweep["single_row_commits_per_second_measured"])
        lines += [
            "",
            "| sweep | released/s | ÷ single-row commits/s | worker RSS MB (start → peak) |",
            "|---|---|---|---|",
            f"| single-row commit loop (median of {measured}) | {sweep['single_row_commits_per_second']} | 1 | |",
            f"| 1 worker | {sweep['one_worker']['per_second']} | {sweep['ratio_one_worker']} | "
            f"{sweep['one_worker']['worker_rss_start_mb']} → {sweep['one_worker']['worker_rss_peak_mb']} |",
            f"| 2 workers | {sweep['two_workers']['per_second']} | {sweep['ratio_per_worker_two']} per worker | "
            f"{sweep['two_workers']['worker_rss_start_mb']} → {sweep['two_workers']['worker_rss_peak_mb']} |",
            f"| then 2 workers on the notifications queue | {sweep['fan_out']['emails_per_second']} emails/s | | "
            f"→ {sweep['fan_out']['worker_rss_mb']} |",
            "",
            f"Per release: {sweep['profile']['queries_per_release']} queries, "
            f"{sweep['profile']['python_ms_per_release']} ms of Python. 100,000 overdue milestones with 2 workers: "
            f"~{sweep['minutes_for_100k_two_workers']} min. Audit after the sweep: "
            f"{'clean' if results['audit_after_sweep']['ok'] else 'VIOLATIONS'}, "
            f"{results['audit_after_sweep']['seconds']} s with the sweep's postings to sum.",
        ]
    return "\n".join(lines)


def main(argv=None) -> int:
    args = parse_args(argv)
    database = setup_environment()
    compile_bytecode()
    import django

    if not args.reuse:
        recreate_database(database)
    django.setup()
    from django.core.management import call_command

    results = {"scale": args.scale, "overdue": args.overdue}
    if not args.reuse:
        call_command("migrate", verbosity=0)
        from bench.dataset import generate

        print(f"Generating the dataset (scale {args.scale}, {args.overdue} overdue milestones)…")
        started = time.perf_counter()
        counts = generate(scale=args.scale, overdue=args.overdue)
        print(f"  {time.perf_counter() - started:.0f} s: {counts}")
        results["generation_seconds"] = round(time.perf_counter() - started)
    from contracts.models import Contract, Milestone
    from escrow.models import Posting
    from messaging.models import Message

    results["rows"] = (
        f"{Contract.objects.count()} contracts, {Milestone.objects.count()} milestones, "
        f"{Message.objects.count()} messages, {Posting.objects.count()} postings"
    )
    print("Audit:")
    results["audit_full"] = audit("every posting summed, --full", full=True)
    results["audit"] = audit("again, nothing new since")
    print("Pages (each next to the ceiling view, same gunicorn, same run):")
    pages = pages_to_measure()
    cookies, counts, cold_ms = sessions_and_query_counts(pages)
    from django.db import connections

    connections.close_all()
    results["pages"] = measure_pages(args, pages, cookies, counts, cold_ms)
    if not args.skip_sweep:
        print("Sweep:")
        results["sweep"] = measure_sweep(args)
        results["audit_after_sweep"] = audit("after the sweep")
    report = table(results)
    print("\n" + report)
    out = args.json or ROOT / "var" / "bench" / f"bench-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2, default=str))
    print(f"\nResults: {out}")
    audits = [results["audit_full"], results["audit"], results.get("audit_after_sweep", {"ok": True})]
    return 0 if all(each["ok"] for each in audits) else 1


if __name__ == "__main__":
    sys.exit(main())
