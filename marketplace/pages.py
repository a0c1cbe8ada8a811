"""The help ("How it works"), terms and privacy pages, and the 500 page.

Every number on the help page comes from the settings (or the one constant that defines it), so the page
says what the site does: change PLATFORM_FEE_PERCENT or REVIEW_PERIOD_DAYS and the page changes with it.
"""

from decimal import Decimal

from django.conf import settings
from django.http import HttpResponseServerError
from django.shortcuts import render
from django.template import loader
from django.views.decorators.csrf import requires_csrf_token

from contracts.rules import REVISION_ROUNDS_MAX
from contracts.services.milestones import REMINDER_DAYS as REVIEW_REMINDER_DAYS
from feedback.services import REMINDER_DAYS as FEEDBACK_REMINDER_DAYS

from .money import format_money, platform_fee

EXAMPLE = Decimal("400.00")  # the milestone the help page uses to show the fee


def numbers() -> dict:
    """The product's numbers as the pages show them."""
    return {
        "fee_percent": settings.PLATFORM_FEE_PERCENT.normalize(),
        "example_amount": format_money(EXAMPLE),
        "example_fee": format_money(platform_fee(EXAMPLE)),
        "example_received": format_money(EXAMPLE - platform_fee(EXAMPLE)),
        "milestone_min": format_money(settings.MILESTONE_MIN_AMOUNT),
        "offer_max_milestones": settings.OFFER_MAX_MILESTONES,
        "offer_max_total": format_money(settings.OFFER_MAX_TOTAL),
        "revision_rounds_max": REVISION_ROUNDS_MAX,
        "review_days": settings.REVIEW_PERIOD.days,
        "review_reminder_days": sorted(REVIEW_REMINDER_DAYS, reverse=True),
        "dispute_response_days": settings.DISPUTE_RESPONSE_PERIOD.days,
        "dispute_staff_days": settings.DISPUTE_STAFF_SLA.days,
        "feedback_days": settings.FEEDBACK_WINDOW.days,
        "feedback_reminder_days": sorted(FEEDBACK_REMINDER_DAYS),
        "quiet_ask_days": settings.QUIET_CONTRACT_ASK_AFTER.days,
        "quiet_end_days": settings.QUIET_CONTRACT_END_AFTER.days,
        "overdue_days": settings.OVERDUE_MILESTONE_PROMPT_AFTER.days,
        "jobs_expire_days": settings.JOBS_EXPIRE_DAYS,
        "currency": settings.CURRENCY,
        "terms_version": settings.TERMS_VERSION,
    }


def help_page(request):
    return render(request, "pages/help.html", numbers())


def terms(request):
    return render(request, "pages/terms.html", numbers())


def privacy(request):
    return render(request, "pages/privacy.html", numbers())


@requires_csrf_token
def server_error(request, template_name="500.html"):
    """handler500: a styled page that needs no database, session or context processor (any of them may be
    what failed)."""
    template = loader.get_template(template_name)
    return HttpResponseServerError(template.render({"SITE_NAME": settings.SITE_NAME}))
