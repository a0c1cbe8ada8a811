"""Reads for accounts and the freelancer directory. Views call these; they never build querysets themselves."""

from dataclasses import dataclass

from django.db.models import Count, Prefetch, Q, QuerySet
from django.http import Http404
from django.utils.translation import gettext_lazy as _

from feedback.selectors import order_by_rating, with_ratings

from .models import Profile, User

SORTS = ("name", "rating")  # the directory's orders: by name (default), best rated first

# The least a profile needs to be listed in the directory: a headline (what the freelancer does). Profile pages,
# offers and job invitations stay open to every active freelancer (a client may know them from a proposal or a
# past contract); only the directory's cards would otherwise be empty.
LISTED = Q(profile__headline__gt="")


def _freelancers() -> QuerySet[User]:
    """Active users who work as freelancers, with the profile joined and its skills prefetched.

    A user without a Profile row is included; `user.profile` then raises (and renders as empty in templates).
    Skills are read as `user.profile.skill_list`, the prefetched tags (one query per page) as a plain list: through
    the manager (`profile.skills.all`) django-taggit builds a queryset per profile to hold them (~0.5 ms each).
    The published rating is joined too (`rating_average`, `rating_count`; see feedback.selectors).
    """
    return with_ratings(
        User.objects.filter(wants_to_work=True, is_active=True)
        .select_related("profile")
        .prefetch_related(Prefetch("profile__skills", to_attr="skill_list"))
    )


def freelancer_list(*, query: str = "", sort: str = "name") -> QuerySet[User]:
    """Listed freelancers (a profile with a headline, `LISTED`) whose name, headline or a skill contains `query`
    (any case), ordered by name, or best rated first with `sort="rating"`.

    The three matches are a UNION of user ids (no joins that multiply rows, so no DISTINCT), and each
    branch's `icontains` can use its own trigram index on PostgreSQL (migration 0004): the search reads
    the matching rows, not every profile on the platform (an OR across the tables could not).
    """
    freelancers = _freelancers().filter(LISTED)
    query = query.strip()
    if query:
        profiles = Profile.objects.order_by()
        matching = (
            User.objects.filter(name__icontains=query)
            .order_by()
            .values("pk")
            .union(
                profiles.filter(headline__icontains=query).values("user_id"),
                profiles.filter(skills__name__icontains=query).values("user_id"),
            )
        )
        freelancers = freelancers.filter(pk__in=matching)
    if sort == "rating":
        return order_by_rating(freelancers)
    return freelancers.order_by("name", "id")


def freelancer_get(*, user_id: int) -> User:
    """The freelancer with this id; Http404 for an unknown id, an inactive user or one who does not work."""
    try:
        return _freelancers().get(pk=user_id)
    except User.DoesNotExist:
        raise Http404("No such freelancer.") from None


def profile_get_for_user(*, user: User) -> Profile | None:
    """The user's own profile with its skills, or None when they have not saved one yet."""
    return Profile.objects.filter(user=user).prefetch_related("skills").first()


@dataclass(frozen=True)
class ProfileStep:
    name: str
    label: str
    done: bool


@dataclass(frozen=True)
class ProfileCompletion:
    steps: list[ProfileStep]
    listed: bool  # shown in the directory

    @property
    def percent(self) -> int:
        return round(100 * sum(step.done for step in self.steps) / len(self.steps))

    @property
    def complete(self) -> bool:
        return all(step.done for step in self.steps)


def profile_completion(*, user: User) -> ProfileCompletion:
    """How far the freelancer's profile is filled in (headline, bio, skills, location), in one query."""
    profile = Profile.objects.filter(user=user).annotate(skill_count=Count("skills")).first()
    done = {
        "headline": bool(profile and profile.headline),
        "bio": bool(profile and profile.bio),
        "skills": bool(profile and profile.skill_count),
        "location": bool(profile and profile.location),
    }
    labels = {
        "headline": _("A headline: what you do, in a line"),
        "bio": _("A short bio"),
        "skills": _("Your skills"),
        "location": _("Where you work from"),
    }
    steps = [ProfileStep(name, labels[name], done[name]) for name in labels]
    return ProfileCompletion(steps=steps, listed=done["headline"])
