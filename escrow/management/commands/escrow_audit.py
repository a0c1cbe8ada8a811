from django.core.management.base import BaseCommand, CommandError

from escrow.audit import run_audit
from escrow.models import Entry, Posting


class Command(BaseCommand):
    help = "Recompute every ledger invariant; list each violation and exit non-zero if there is any."

    def handle(self, *args, **options):
        violations = run_audit()
        if violations:
            for violation in violations:
                self.stderr.write(f"- {violation}")
            raise CommandError(f"The escrow ledger audit found {len(violations)} violation(s).")
        self.stdout.write(
            self.style.SUCCESS(
                f"The escrow ledger is consistent ({Entry.objects.count()} entries, "
                f"{Posting.objects.count()} postings checked)."
            )
        )
