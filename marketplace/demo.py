"""Demo data for `manage.py seed_demo`. Each issue extends `seed_demo` so the demo shows every feature."""

from django.db import transaction

from .models import User

DEMO_PASSWORD = "demo-pass-2026"

DEMO_USERS = [
    {"email": "client@demo.test", "name": "Clara Client", "wants_to_hire": True, "timezone": "Europe/Berlin"},
    {
        "email": "freelancer@demo.test",
        "name": "Felix Freelancer",
        "wants_to_work": True,
        "timezone": "America/New_York",
    },
    {
        "email": "admin@demo.test",
        "name": "Sam Staff",
        "is_staff": True,
        "is_superuser": True,
        "timezone": "UTC",
    },
]


@transaction.atomic
def seed_demo() -> list[User]:
    """Create the demo accounts if missing. Idempotent: running it again changes nothing."""
    users = []
    for fields in DEMO_USERS:
        user = User.objects.filter(email=fields["email"]).first()
        if user is None:
            user = User.objects.create_user(password=DEMO_PASSWORD, **fields)
        users.append(user)
    return users
