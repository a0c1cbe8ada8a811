from django.core.management.base import BaseCommand

from marketplace.schedules import sync_periodic_jobs


class Command(BaseCommand):
    help = "Write the periodic jobs declared in marketplace/schedules.py into django-celery-beat."

    def add_arguments(self, parser):
        parser.add_argument("--reset", action="store_true", help="Overwrite schedules edited in admin.")

    def handle(self, *args, reset=False, **options):
        changed = sync_periodic_jobs(reset=reset)
        for name in changed:
            self.stdout.write(f"Scheduled: {name}")
        self.stdout.write(self.style.SUCCESS(f"Periodic jobs in sync ({len(changed)} written)."))
