"""The evidence bundle: everything staff need to decide a dispute, in one ZIP file.

The agreed terms and every offer revision, each milestone with what escrow holds, the audit trail,
every submission with its files and their SHA-256 fingerprints (re-checked while bundling), and
the whole message thread with its attachments. `SHA256SUMS` fingerprints every file of the bundle.
"""

import csv
import hashlib
import io
import json
import tempfile
import zipfile

from django.utils import timezone

from marketplace.uploads import open_stream
from messaging.models import Message

from .events import event_text
from .models import Contract, Submission
from .selectors import milestones_money


def _iso(value) -> str | None:
    return value.isoformat() if value else None


def _contract_json(contract: Contract, milestones) -> dict:
    return {
        "contract": contract.pk,
        "title": contract.title,
        "status": contract.status,
        "client": {"name": contract.client_name, "email": contract.client.email},
        "freelancer": {"name": contract.freelancer_name, "email": contract.freelancer.email},
        "started_at": _iso(contract.created_at),
        "ended_at": _iso(contract.ended_at),
        "agreed_revision": contract.agreed_revision.number,
        "scope": contract.scope,
        "acceptance_criteria": contract.acceptance_criteria,
        "revision_rounds": contract.revision_rounds,
        "fee_percent": str(contract.fee_percent),
        "milestones": [
            {
                "milestone": m.pk,
                "position": m.position,
                "title": m.title,
                "deliverable": m.deliverable,
                "due_date": m.due_date.isoformat(),
                "amount": str(m.amount),
                "fee": str(m.fee),
                "state": m.state,
                "funded": str(m.money.funded),
                "refunded": str(m.money.refunded),
                "held_in_escrow": str(m.money.held),
                "released": str(m.money.released),
                "fee_taken": str(m.money.fee),
                "paid_to_freelancer": str(m.money.received),
                "changes_requested": m.changes_requested_count,
            }
            for m in milestones
        ],
    }


def _revisions_json(contract: Contract) -> list[dict]:
    revisions = contract.offer.revisions.select_related("author").prefetch_related("milestones")
    return [
        {
            "number": r.number,
            "author": r.author.name,
            "created_at": _iso(r.created_at),
            "title": r.title,
            "scope": r.scope,
            "acceptance_criteria": r.acceptance_criteria,
            "revision_rounds": r.revision_rounds,
            "fee_percent": str(r.fee_percent),
            "message": r.message,
            "milestones": [
                {"position": m.position, "title": m.title, "due_date": m.due_date.isoformat(), "amount": str(m.amount)}
                for m in r.milestones.all()
            ],
        }
        for r in revisions
    ]


def _events_csv(contract: Contract) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["time (UTC)", "actor", "action", "milestone", "from", "to", "note", "data", "record"])
    events = contract.events.select_related("actor", "milestone", "contract").order_by("created_at", "id")
    for e in events:
        actor = e.actor.name if e.actor else "(automatic)"
        milestone = e.milestone.title if e.milestone else ""
        data = json.dumps(e.data, sort_keys=True)
        row = [_iso(e.created_at), actor, e.kind, milestone, e.from_state, e.to_state, e.note, data, event_text(e)]
        writer.writerow(row)
    return out.getvalue()


def _copy_with_hash(bundle: zipfile.ZipFile, field_file, arcname: str) -> str:
    digest = hashlib.sha256()
    with open_stream(field_file) as source, bundle.open(arcname, "w") as target:
        for chunk in iter(lambda: source.read(1024 * 1024), b""):
            digest.update(chunk)
            target.write(chunk)
    return digest.hexdigest()


def evidence_bundle(contract: Contract):
    """A temporary file holding the ZIP (the caller streams it and closes it)."""
    milestones = list(contract.milestones.all())
    milestones_money(milestones)
    sums: dict[str, str] = {}
    output = tempfile.TemporaryFile()  # noqa: SIM115 - returned open: FileResponse streams and closes it
    with zipfile.ZipFile(output, "w", compression=zipfile.ZIP_DEFLATED) as bundle:

        def write(name: str, text: str) -> None:
            data = text.encode()
            bundle.writestr(name, data)
            sums[name] = hashlib.sha256(data).hexdigest()

        write("contract.json", json.dumps(_contract_json(contract, milestones), indent=2))
        write("revisions.json", json.dumps(_revisions_json(contract), indent=2))
        write("events.csv", _events_csv(contract))

        submissions = []
        for s in (
            Submission.objects.filter(milestone__contract=contract)
            .select_related("milestone", "submitted_by")
            .prefetch_related("files")
            .order_by("milestone__position", "number")
        ):
            files = []
            for f in s.files.all():
                arcname = f"submissions/milestone-{s.milestone.position}/submission-{s.number}/{f.pk}-{f.name}"
                sums[arcname] = actual = _copy_with_hash(bundle, f.file, arcname)
                files.append(
                    {
                        "name": f.name,
                        "size": f.size,
                        "sha256_recorded": f.sha256,
                        "sha256_now": actual,
                        "unchanged": actual == f.sha256,
                        "path": arcname,
                    }
                )
            submissions.append(
                {
                    "milestone": s.milestone.title,
                    "number": s.number,
                    "by": s.submitted_by.name,
                    "submitted_at": _iso(s.created_at),
                    "status": s.status,
                    "review_deadline": _iso(s.review_deadline),
                    "message": s.message,
                    "links": s.links,
                    "files": files,
                }
            )
        write("submissions.json", json.dumps(submissions, indent=2))

        lines = []
        thread = contract.offer.thread
        messages = (
            Message.objects.filter(thread=thread).select_related("sender").prefetch_related("attachments")
            if thread
            else []
        )
        for m in messages:
            who = "(event)" if m.kind == Message.Kind.EVENT else (m.sender.name if m.sender else "(system)")
            lines.append(f"[{_iso(m.created_at)}] {who}: {m.body}")
            for a in m.attachments.all():
                arcname = f"messages/{m.pk}/{a.pk}-{a.original_name}"
                sums[arcname] = _copy_with_hash(bundle, a.file, arcname)
                lines.append(f"    attachment {a.original_name} ({a.size} bytes, sha256 {a.sha256}) -> {arcname}")
        write("thread.txt", "\n".join(lines) + "\n")

        write(
            "README.txt",
            f"Evidence bundle for contract #{contract.pk} “{contract.title}”, made {timezone.now().isoformat()}.\n"
            "contract.json: the agreed terms and each milestone with what escrow holds.\n"
            "revisions.json: every offer revision. events.csv: the audit trail.\n"
            "submissions.json + submissions/: submitted work; each file's SHA-256 is re-computed and compared\n"
            "with the one recorded at submission. thread.txt + messages/: the parties' messages and events.\n"
            "SHA256SUMS: the fingerprint of every file in this bundle.\n",
        )
        bundle.writestr("SHA256SUMS", "".join(f"{digest}  {name}\n" for name, digest in sorted(sums.items())))
    output.seek(0)
    return output
