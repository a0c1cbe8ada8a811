"""Writes for accounts. Views call these; they never save models themselves."""

from collections.abc import Iterable

from allauth.account.models import EmailAddress
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from .hygiene import clean_text
from .i18n import supported_language
from .models import Profile, User

ROLE_FLAGS = {
    "hire": {"wants_to_hire": True, "wants_to_work": False},
    "work": {"wants_to_hire": False, "wants_to_work": True},
    "both": {"wants_to_hire": True, "wants_to_work": True},
}


def user_email_mark_verified(*, user: User) -> EmailAddress:
    """Record the user's current address as confirmed and primary, for accounts whose address is vouched for
    without a confirmation email (the demo accounts, test factories). Idempotent."""
    address, _ = EmailAddress.objects.update_or_create(
        user=user, email=user.email, defaults={"verified": True, "primary": True}
    )
    return address


@transaction.atomic
def user_update_settings(*, user: User, name: str, timezone, role: str, refund_to: str, language: str) -> User:
    user.name = clean_text(name).strip()
    user.timezone = timezone
    user.refund_to = refund_to
    user.language = supported_language(language)
    for field, value in ROLE_FLAGS[role].items():
        setattr(user, field, value)
    user.save(update_fields=["name", "timezone", "refund_to", "language", *ROLE_FLAGS[role]])
    return user


def user_language_set(*, user: User, language: str) -> User:
    """The language of the user's pages and emails (the navbar's switcher; the settings form sets it too)."""
    user.language = supported_language(language)
    user.save(update_fields=["language"])
    return user


def user_role(user: User) -> str:
    """The role choice ("hire", "work" or "both") that matches a user's flags."""
    for role, flags in ROLE_FLAGS.items():
        if all(getattr(user, field) == value for field, value in flags.items()):
            return role
    return "hire"


MAX_SKILLS = 20
MAX_SKILL_LENGTH = 50


def skills_normalise(skills: Iterable[str]) -> list[str]:
    """Stripped, lower-case, without blanks or repeats, in the order given. Limits are checked by the caller."""
    normalised = []
    for skill in skills:
        skill = " ".join(skill.split()).lower()
        if skill and skill not in normalised:
            normalised.append(skill)
    return normalised


@transaction.atomic
def profile_update(*, user: User, headline: str, bio: str, location: str, skills: list[str]) -> Profile:
    """Create the user's profile if missing and replace its contents. ProfileForm has shown the user any errors;
    the limits are checked again here so no other caller can store more than the directory is built for."""
    skills = skills_normalise(skills)
    if len(skills) > MAX_SKILLS or any(len(skill) > MAX_SKILL_LENGTH for skill in skills):
        raise ValidationError(
            _("At most %(count)d skills of at most %(length)d characters each.")
            % {"count": MAX_SKILLS, "length": MAX_SKILL_LENGTH}
        )
    profile, _created = Profile.objects.get_or_create(user=user)
    profile.headline = clean_text(headline).strip()
    profile.bio = clean_text(bio).strip()
    profile.location = clean_text(location).strip()
    profile.save()
    profile.skills.set(skills, clear=True)  # clear, so the skills keep the order the freelancer typed
    return profile
