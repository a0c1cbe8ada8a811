from django.core.management.base import BaseCommand

from marketplace.demo import DEMO_PASSWORD, seed_demo


class Command(BaseCommand):
    help = "Load the demo data (idempotent). Prints the demo logins."

    def handle(self, *args, **options):
        users = seed_demo()
        self.stdout.write(self.style.SUCCESS(f"Demo data ready. Demo logins (password for all: {DEMO_PASSWORD}):"))
        for user in users:
            role = "staff, Django admin at /admin/" if user.is_staff else user.roles_label.lower()
            self.stdout.write(f"  {user.email:<24} {role}")
