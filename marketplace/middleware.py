from django.conf import settings
from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from .accounts import has_second_factor, session_used_second_factor
from .caching import user_pages_stale
from .i18n import user_language


class UserTimezoneMiddleware:
    """Show every date and time in the logged-in user's own timezone."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and user.timezone:
            timezone.activate(user.timezone)  # a ZoneInfo (django-timezone-field)
        else:
            timezone.deactivate()
        return self.get_response(request)


class UserLanguageMiddleware:
    """A logged-in user reads the site in the language of their account settings (User.language), whatever
    their browser or a cookie says; LocaleMiddleware (earlier) has chosen for everyone else (the switcher's
    cookie, then Accept-Language). Runs after AuthenticationMiddleware, which LocaleMiddleware cannot."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            language = user_language(user)
            translation.activate(language)
            request.LANGUAGE_CODE = language
        return self.get_response(request)


class PermissionsPolicyMiddleware:
    """Send `settings.PERMISSIONS_POLICY` (browser features the site never uses are switched off)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        response.headers.setdefault("Permissions-Policy", settings.PERMISSIONS_POLICY)
        return response


class StaffSecondFactorMiddleware:
    """The admin opens only for staff who signed in with a second factor in this session.

    Staff without one are sent to set it up; staff who have one but signed in with a password only are asked
    for a code (allauth's re-authentication records the second factor in the session)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if (
            user is not None
            and user.is_authenticated
            and user.is_staff
            and request.path.startswith(reverse("admin:index"))
            and not session_used_second_factor(request)
        ):
            if not has_second_factor(user):
                messages.warning(request, _("Staff must set up two-factor authentication before opening the admin."))
                return redirect_to_login(request.get_full_path(), reverse("mfa_activate_totp"))
            messages.info(request, _("Enter a code from your authenticator app to open the admin."))
            return redirect_to_login(request.get_full_path(), reverse("mfa_reauthenticate"))
        return self.get_response(request)


class UserPagesStaleMiddleware:
    """A request that writes (POST, PUT, PATCH, DELETE) may change anything its user sees: their cached pages are
    dropped (marketplace.caching), so the page they are sent to next shows what they just did."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        writes = request.method not in ("GET", "HEAD", "OPTIONS", "TRACE")
        user_id = request.user.pk if writes and request.user.is_authenticated else None
        response = self.get_response(request)
        if user_id:
            user_pages_stale(user_id)
        return response
