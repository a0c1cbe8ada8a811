"""Writes for accounts. Views call these; they never save models themselves."""

from django.db import transaction

from .models import User

ROLE_FLAGS = {
    "hire": {"wants_to_hire": True, "wants_to_work": False},
    "work": {"wants_to_hire": False, "wants_to_work": True},
    "both": {"wants_to_hire": True, "wants_to_work": True},
}


@transaction.atomic
def user_create(*, email: str, name: str, password: str, role: str, timezone: str = "UTC", **extra) -> User:
    """Create an account; the caller has validated the password. All or nothing."""
    return User.objects.create_user(
        email=email, password=password, name=name.strip(), timezone=timezone, **ROLE_FLAGS[role], **extra
    )


@transaction.atomic
def user_update_settings(*, user: User, name: str, timezone, role: str) -> User:
    user.name = name.strip()
    user.timezone = timezone
    for field, value in ROLE_FLAGS[role].items():
        setattr(user, field, value)
    user.save(update_fields=["name", "timezone", *ROLE_FLAGS[role]])
    return user


def user_role(user: User) -> str:
    """The role choice ("hire", "work" or "both") that matches a user's flags."""
    for role, flags in ROLE_FLAGS.items():
        if all(getattr(user, field) == value for field, value in flags.items()):
            return role
    return "hire"
