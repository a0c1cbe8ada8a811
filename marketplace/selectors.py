"""Reads for accounts and the freelancer directory. Views call these; they never build querysets themselves."""

from django.db.models import QuerySet
from django.http import Http404

from feedback.selectors import order_by_rating, with_ratings

from .models import Profile, User

SORTS = ("name", "rating")  # the directory's orders: by name (default), best rated first


def _freelancers() -> QuerySet[User]:
    """Active users who work as freelancers, with the profile joined and its skills prefetched.

    A user without a Profile row is included; `user.profile` then raises (and renders as empty in templates).
    Skills are read through `user.profile.skills.all`, which uses the prefetched tags (one query per page).
    The published rating is joined too (`rating_average`, `rating_count`; see feedback.selectors).
    """
    return with_ratings(
        User.objects.filter(wants_to_work=True, is_active=True)
        .select_related("profile")
        .prefetch_related("profile__skills")
    )


def freelancer_list(*, query: str = "", sort: str = "name") -> QuerySet[User]:
    """Freelancers whose name, headline or a skill contains `query` (any case), ordered by name, or
    best rated first with `sort="rating"`.

    The three matches are a UNION of user ids (no joins that multiply rows, so no DISTINCT), and each
    branch's `icontains` can use its own trigram index on PostgreSQL (migration 0004): the search reads
    the matching rows, not every profile on the platform (an OR across the tables could not).
    """
    freelancers = _freelancers()
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
