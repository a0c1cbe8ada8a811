from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.templatetags.static import static
from django.utils import translation
from django.utils.functional import SimpleLazyObject
from django.utils.translation import gettext as _
from django.views import i18n
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from contracts import selectors as contract_selectors
from escrow.selectors import balances_summary
from feedback import selectors as feedback_selectors
from jobs import selectors as job_selectors

from . import health
from .caching import CachedCountPaginator, cache_key, user_page, user_stamp
from .forms import AccountSettingsForm, ProfileForm
from .i18n import supported_language, user_language
from .selectors import SORTS, freelancer_get, freelancer_list, profile_completion, profile_get_for_user
from .services import profile_update, user_language_set, user_role, user_update_settings

DIRECTORY_PAGE_SIZE = 20


@require_GET
def favicon(request):
    """Pages that name no icon (the admin's, the sandbox provider's) make browsers ask for /favicon.ico."""
    return redirect(static("favicon.svg"), permanent=True)


def home(request):
    return render(request, "marketplace/home.html", {"review_days": settings.REVIEW_PERIOD.days})


@login_required
def dashboard(request):
    main = user_page(request, "marketplace/_dashboard.html", lambda: _dashboard(request.user))
    return render(request, "marketplace/dashboard.html", {"main": main})


def _dashboard(user) -> dict:
    context = contract_selectors.dashboard(user=user)
    context.update(job_selectors.dashboard(user=user))
    context["feedback_due"] = feedback_selectors.feedback_due(user=user)
    context["money"] = balances_summary(user)
    context["profile"] = profile_completion(user=user) if user.wants_to_work else None
    return context


@login_required
def account_settings(request):
    user = request.user
    initial = {
        "name": user.name,
        "role": user_role(user),
        "timezone": user.timezone,
        "refund_to": user.refund_to,
        "language": user_language(user),
    }
    form = AccountSettingsForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        user_update_settings(user=user, **form.cleaned_data)
        with translation.override(user.language):  # the new language already
            messages.success(request, _("Your settings were saved."))
        return redirect("account_settings")
    return render(request, "marketplace/account_settings.html", {"form": form})


@require_POST
def language_set(request):
    """The language switcher (navbar): Django's set_language (a cookie, then back to the page), and for a
    logged-in user also their account's language, which is what UserLanguageMiddleware reads."""
    response = i18n.set_language(request)
    language = request.POST.get("language")
    if request.user.is_authenticated and language and supported_language(language) == language:
        user_language_set(user=request.user, language=language)
    return response


@never_cache
@require_GET
def healthz(request):
    checks = {"database": health.database_ok(), "broker": health.broker_ok()}
    healthy = all(checks.values())
    body = {"status": "ok" if healthy else "unavailable"}
    body.update({name: "ok" if ok else "unavailable" for name, ok in checks.items()})
    return JsonResponse(body, status=200 if healthy else 503)


def readyz(request):
    status, body = health.readiness()
    return JsonResponse(body, status=status)


def directory(request):
    query = request.GET.get("q", "").strip()
    sort = request.GET.get("sort") if request.GET.get("sort") in SORTS else "name"
    freelancers = freelancer_list(query=query, sort=sort)
    # Results pages (and their counts) are rendered once a minute for everyone who sees them the same: anonymous
    # visitors, and clients (an invitation link on each card). A freelancer may be on the page and edit their own
    # profile: theirs are their own copies, under their page stamp (marketplace.caching), so an edit shows at once.
    viewer = request.user
    works = viewer.is_authenticated and viewer.wants_to_work
    cache_results = set(request.GET) <= {"q", "page", "sort"}
    results_variant = "anonymous"
    if viewer.is_authenticated:
        results_variant = f"hires:{viewer.wants_to_hire}" + (f":{viewer.pk}:{user_stamp(viewer.pk)}" if works else "")
    if cache_results and not works:
        paginator = CachedCountPaginator(
            freelancers, DIRECTORY_PAGE_SIZE, key=cache_key("directory-count", query, results_variant)
        )
    else:
        paginator = Paginator(freelancers, DIRECTORY_PAGE_SIZE)
    page = paginator.get_page(request.GET.get("page"))
    # Read (with their track records: two queries) only when the page is rendered, not for a cached copy.
    rows = page.object_list
    page.object_list = SimpleLazyObject(lambda: feedback_selectors.track_records(rows))
    page_range = paginator.get_elided_page_range(page.number, on_each_side=1, on_ends=1)
    context = {
        "page": page,
        "page_range": page_range,
        "query": query,
        "sort": sort,
        "ellipsis": paginator.ELLIPSIS,
        "cache_results": cache_results,
        "results_variant": results_variant,
    }
    return render(request, "marketplace/directory.html", context)


def freelancer_detail(request, user_id):
    freelancer = freelancer_get(user_id=user_id)
    viewer = request.user
    is_self = viewer.pk == freelancer.pk
    context = {
        "freelancer": freelancer,
        "track_record": feedback_selectors.freelancer_track_record(freelancer),
        "is_self": is_self,
        "can_offer": viewer.is_authenticated and viewer.wants_to_hire and not is_self,
    }
    return render(request, "marketplace/freelancer_detail.html", context)


@login_required
def profile_edit(request):
    user = request.user
    profile = profile_get_for_user(user=user)
    initial = {}
    if profile is not None:
        initial = {
            "headline": profile.headline,
            "bio": profile.bio,
            "location": profile.location,
            "skills": ", ".join(tag.name for tag in profile.skills.all()),
        }
    form = ProfileForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        profile_update(user=user, **form.cleaned_data)
        messages.success(request, _("Your profile was saved."))
        if user.wants_to_work:
            return redirect("freelancer_detail", user_id=user.pk)
        return redirect("profile_edit")  # not in the directory, so there is no public profile page to show
    return render(request, "marketplace/profile_edit.html", {"form": form, "profile": profile})
