from django.core.management.base import BaseCommand, CommandError

from escrow.audit import run_audit
from escrow.models import Entry, Posting


class Command(BaseCommand):
    help = "Recompute every ledger invariant; list each violation and exit non-zero if there is any."
    # The system checks read the URLconf, the admin and every app's settings (0.5 s here), none of which the audit
    # uses: like `shell` and `migrate`, it runs without them.
    requires_system_checks = []

    def add_arguments(self, parser):
        parser.add_argument(
            "--full",
            action="store_true",
            help="Sum every posting again, instead of only those the last audit had not seen (and keep the new sums).",
        )

    def handle(self, *args, **options):
        violations = run_audit(full=options["full"])
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
