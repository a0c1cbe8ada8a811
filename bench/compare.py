"""Two `make bench` results side by side: `python -m bench.compare before.json after.json`.

Prints one markdown table of the ratios (each page's req/s ÷ the ceiling measured next to it in the
same run), p95 and query counts, then the audit and the sweep.
"""

import json
import sys
from pathlib import Path


def _load(path: str) -> dict:
    return json.loads(Path(path).read_text())


def compare(before: dict, after: dict) -> str:
    rows = {row["page"]: row for row in before["pages"]}
    lines = [
        "| page | queries before → after | req/s ÷ ceiling before → after | p95 ms before → after |",
        "|---|---|---|---|",
    ]
    for row in after["pages"]:
        old = rows.get(row["page"], {})
        lines.append(
            f"| {row['page']} | {old.get('queries', '–')} → {row['queries']} | "
            f"{old.get('ratio', '–')} → **{row['ratio']}** | {old.get('p95_ms', '–')} → {row['p95_ms']} |"
        )
    a, b = before["audit"], after["audit"]
    lines += [
        "",
        f"escrow_audit: {a['seconds']} s, {a['peak_mb']} MB → {b['seconds']} s, {b['peak_mb']} MB.",
    ]
    sb, sa = before.get("sweep"), after.get("sweep")
    if sb and sa:
        lines += [
            "",
            "| sweep | before | after |",
            "|---|---|---|",
            f"| queries per release | {sb['profile']['queries_per_release']} | "
            f"{sa['profile']['queries_per_release']} |",
            f"| Python ms per release | {sb['profile']['python_ms_per_release']} | "
            f"{sa['profile']['python_ms_per_release']} |",
            f"| single-row commits/s (the ceiling) | {sb['single_row_commits_per_second']} | "
            f"{sa['single_row_commits_per_second']} |",
            f"| 1 worker: released/s (÷ ceiling) | {sb['one_worker']['per_second']} ({sb['ratio_one_worker']}) | "
            f"{sa['one_worker']['per_second']} ({sa['ratio_one_worker']}) |",
            f"| 2 workers: released/s (÷ ceiling per worker) | {sb['two_workers']['per_second']} "
            f"({sb['ratio_per_worker_two']}) | {sa['two_workers']['per_second']} ({sa['ratio_per_worker_two']}) |",
            f"| worker RSS MB, 2 workers (start → peak) | {sb['two_workers']['worker_rss_start_mb']} → "
            f"{sb['two_workers']['worker_rss_peak_mb']} | {sa['two_workers']['worker_rss_start_mb']} → "
            f"{sa['two_workers']['worker_rss_peak_mb']} |",
            f"| 100,000 overdue with 2 workers | ~{sb['minutes_for_100k_two_workers']} min | "
            f"~{sa['minutes_for_100k_two_workers']} min |",
        ]
    return "\n".join(lines)


if __name__ == "__main__":
    print(compare(_load(sys.argv[1]), _load(sys.argv[2])))
