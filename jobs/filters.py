"""The jobs list's search, filters and sorting (django-filter). Parses the query string; the queryset it
narrows comes from `jobs.selectors`."""

from datetime import timedelta

import django_filters
from django import forms
from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.contrib.postgres.search import SearchQuery, SearchVector
from django.db import connection
from django.db.models import Q
from django.utils import timezone
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _
from taggit.models import TaggedItem

from .models import Job

# The expression of the GIN index in migration 0002: a query matches it only when written the same way.
SEARCH_CONFIG = "english"


def search_vector():
    return SearchVector("title", "description", config=SEARCH_CONFIG)


def full_text(queryset, text: str):
    """PostgreSQL: full-text search on title and description, through the GIN index (websearch syntax:
    "quoted phrases", -excluded words, or). SQLite (`make run`): every word appears in title or description."""
    text = text.strip()
    if not text:
        return queryset
    if connection.vendor == "postgresql":
        query = SearchQuery(text, config=SEARCH_CONFIG, search_type="websearch")
        return queryset.alias(search=search_vector()).filter(search=query)
    for word in text.split():
        queryset = queryset.filter(Q(title__icontains=word) | Q(description__icontains=word))
    return queryset


def skill_names(value: str) -> list[str]:
    return [name.strip().lower() for name in (value or "").split(",") if name.strip()]


POSTED_WITHIN = [("1", _("Last 24 hours")), ("3", _("Last 3 days")), ("7", _("Last week")), ("30", _("Last 30 days"))]
PROPOSALS = [("lt5", _("Fewer than 5")), ("5to10", _("5 to 10")), ("gt10", _("More than 10"))]
SORTS = [
    ("newest", _("Newest first")),
    ("budget_high", _("Highest budget")),
    ("budget_low", _("Lowest budget")),
    ("fewest_proposals", _("Fewest proposals")),
]
ORDER_BY = {
    "newest": ("-published_at", "-id"),
    "budget_high": ("-budget_max", "-id"),
    "budget_low": ("budget_min", "-id"),
    "fewest_proposals": ("proposal_count", "-published_at", "-id"),
}


class JobFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(
        label=_("Search jobs"),
        method="filter_q",
        widget=forms.TextInput(attrs={"type": "search", "placeholder": _("e.g. django shop")}),
    )
    skills = django_filters.CharFilter(
        label=_("Skills"),
        method="filter_skills",
        help_text=_("Comma-separated; a job with any of them matches."),
        widget=forms.TextInput(attrs={"placeholder": _("e.g. python, figma")}),
    )
    budget_min = django_filters.NumberFilter(
        label=format_lazy(_("Budget from ({currency})"), currency=settings.CURRENCY),
        field_name="budget_max",
        lookup_expr="gte",
        min_value=0,
    )
    budget_max = django_filters.NumberFilter(
        label=format_lazy(_("Budget up to ({currency})"), currency=settings.CURRENCY),
        field_name="budget_min",
        lookup_expr="lte",
        min_value=0,
    )
    posted_within = django_filters.ChoiceFilter(
        label=_("Posted"), choices=POSTED_WITHIN, method="filter_posted", empty_label=_("Any time")
    )
    proposals = django_filters.ChoiceFilter(
        label=_("Proposals so far"), choices=PROPOSALS, method="filter_proposals", empty_label=_("Any number")
    )
    sort = django_filters.ChoiceFilter(label=_("Sort by"), choices=SORTS, method="filter_sort", empty_label=None)

    class Meta:
        model = Job
        fields = []

    def filter_q(self, queryset, name, value):
        return full_text(queryset, value)

    def filter_skills(self, queryset, name, value):
        names = skill_names(value)
        if not names:
            return queryset
        any_name = Q()
        for skill in names:
            any_name |= Q(tag__name__iexact=skill)
        tagged = TaggedItem.objects.filter(any_name, content_type=ContentType.objects.get_for_model(Job))
        tagged = tagged.values("object_id")
        return queryset.filter(pk__in=tagged)

    def filter_posted(self, queryset, name, value):
        return queryset.filter(published_at__gte=timezone.now() - timedelta(days=int(value)))

    def filter_proposals(self, queryset, name, value):
        ranges = {
            "lt5": Q(proposal_count__lt=5),
            "5to10": Q(proposal_count__range=(5, 10)),
            "gt10": Q(proposal_count__gt=10),
        }
        return queryset.filter(ranges[value])

    def filter_sort(self, queryset, name, value):
        return queryset.order_by(*ORDER_BY.get(value, ORDER_BY["newest"]))
