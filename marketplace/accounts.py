"""Accounts on django-allauth: the adapter that fills in our User, and the checks other apps call.

Security emails about changes made outside allauth (a payout destination) go out through `security_email`, in
the outbox like every email, worded like allauth's own for password, email and two-factor changes.

Whoever may move money must have a verified email address: `require_verified_email(user)` is the one check
(offers, funding, being paid and withdrawing call it, through `verified_email_required` on a view or directly
from a policy). Staff must have signed in with a second factor to open the admin
(`marketplace.middleware.StaffSecondFactorMiddleware`, using `session_used_second_factor`).
"""

from datetime import UTC
from functools import wraps
from types import SimpleNamespace
from urllib.parse import urlsplit, urlunsplit

from allauth.account.adapter import DefaultAccountAdapter
from allauth.account.authentication import get_authentication_records
from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from axes.backends import AxesStandaloneBackend
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext, gettext_lazy
from django.utils.translation import gettext_lazy as _

from messaging import emails, outbox

from .hygiene import clean_text
from .i18n import supported_language
from .models import User
from .services import ROLE_FLAGS

UNVERIFIED_MESSAGE = _("Confirm your email address first: we sent you a link. You can send a new one from this page.")


class UnverifiedEmail(PermissionDenied):
    """The user has not confirmed their email address, so they may not send offers or move money."""


class AccountAdapter(DefaultAccountAdapter):
    def save_user(self, request, user, form, commit=True):
        """Sign-up: allauth sets email and password; our form adds the name, the roles and the timezone."""
        user = super().save_user(request, user, form, commit=False)
        data = form.cleaned_data
        user.name = clean_text(data["name"]).strip()
        user.timezone = data["timezone"]
        user.terms_version = settings.TERMS_VERSION  # the form refuses a sign-up without the box ticked
        user.terms_accepted_at = timezone.now()
        user.language = supported_language(translation.get_language())  # what they read the sign-up page in
        for field, value in ROLE_FLAGS[data["role"]].items():
            setattr(user, field, value)
        if commit:
            user.save()
        return user

    def format_email_subject(self, subject):
        return clean_text(super().format_email_subject(subject))

    def send_mail(self, template_prefix, email, context):
        """Every allauth email (verification, password reset, security and two-factor notices) in the site's
        one email layout, queued in the outbox and sent by the worker after commit, never inside the request.
        Links point at SITE_URL, whatever host the request came in on."""
        user = User.objects.filter(email__iexact=email).first()
        links = {key: _on_site(value) for key, value in context.items() if key.endswith("_url") and value}
        context = {**context, **links, "email": email, "current_site": _site(), "site_name": settings.SITE_NAME}
        with translation.override(emails.user_language(user) if user else settings.LANGUAGE_CODE):
            with timezone.override(user.timezone if user else UTC):
                subject = render_to_string(f"{template_prefix}_subject.txt", context)
                subject = emails.subject_line(self.format_email_subject(" ".join(subject.split())))
                text = render_to_string(f"{template_prefix}_message.txt", context).strip()
            label, key = _ACCOUNT_BUTTONS.get(template_prefix.rsplit("/", 1)[-1], (None, None))
            url = links.get(key, "") if key else ""
            if not url:
                label, url = _security_button(template_prefix)
            section = emails.Section(
                subject=subject,
                paragraphs=tuple(p.strip() for p in text.split("\n\n") if p.strip()),
                action_label=str(label),
                url=url,
            )
            reason = gettext("You get this email because it concerns your %(site)s account and its security.") % {
                "site": settings.SITE_NAME
            }
            rendered = emails.render(user=user, sections=[section], subject=subject, reason=reason)
        outbox.email_queue(
            to=email,
            user=user,
            subject=rendered.subject,
            body=rendered.text,
            html_body=rendered.html,
            from_email=self.get_from_email(),
            template=template_prefix,
        )


# allauth's email (the end of its template prefix) -> the button: its label and the context key of its link.
_ACCOUNT_BUTTONS = {
    "email_confirmation": (gettext_lazy("Confirm your email address"), "activate_url"),
    "email_confirmation_signup": (gettext_lazy("Confirm your email address"), "activate_url"),
    "password_reset_key": (gettext_lazy("Choose a new password"), "password_reset_url"),
    "account_already_exists": (gettext_lazy("Reset your password"), "password_reset_url"),
    "payout_destination_changed": (gettext_lazy("Open your wallet"), "wallet_url"),
}


def _security_button(template_prefix: str) -> tuple[str, str]:
    if template_prefix.startswith("mfa/"):
        return gettext("Review your two-factor authentication"), emails.site_url(reverse("mfa_index"))
    if template_prefix.rsplit("/", 1)[-1].startswith("email"):
        return gettext("Review your email addresses"), emails.site_url(reverse("account_email"))
    return gettext("Review your account"), emails.site_url(reverse("account_change_password"))


def _on_site(url) -> str:
    """A link allauth built from the request's host, moved onto SITE_URL (emails never name a request's host)."""
    if not isinstance(url, str):
        return url
    parts = urlsplit(url)
    path = urlunsplit(("", "", parts.path, parts.query, parts.fragment))
    return emails.site_url(path) if path.startswith("/") else url


def _site() -> SimpleNamespace:
    """What allauth's templates call `current_site`: this site's name and SITE_URL's host."""
    return SimpleNamespace(name=settings.SITE_NAME, domain=urlsplit(settings.SITE_URL).netloc)


class LockoutBackend(AxesStandaloneBackend):
    """django-axes' lockout for every login made through a request (all of the site's: allauth passes it).
    A login without a request (a management command, the test client's `login`) has no address to count
    failures against, so it is left to the other backends instead of being refused."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is None:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)


def axes_username(request, credentials=None) -> str:
    """The address a login attempt was for, as django-axes counts failures (allauth names the field `login`)."""
    value = (credentials or {}).get("email") or (credentials or {}).get("username")
    if value is None:
        value = request.POST.get("login", "")
    return str(value).strip().lower()


def lockout_response(request, original_response=None, credentials=None):
    """django-axes' answer to a locked-out login: a page that says why and for how long (429)."""
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    context = {"failure_limit": settings.AXES_FAILURE_LIMIT, "minutes": minutes}
    return render(request, "account/locked_out.html", context, status=429)


def email_verified(user) -> bool:
    """Whether the user's current email address is confirmed."""
    if not user.is_authenticated:
        return False
    return EmailAddress.objects.filter(user=user, email__iexact=user.email, verified=True).exists()


def require_verified_email(user) -> None:
    """Raise `UnverifiedEmail` (a PermissionDenied) unless the user's email address is confirmed."""
    if not email_verified(user):
        raise UnverifiedEmail(UNVERIFIED_MESSAGE)


def verified_email_required(view):
    """For views that send offers or move money: unverified users go to the email page, with the reason."""

    @login_required
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not email_verified(request.user):
            messages.warning(request, UNVERIFIED_MESSAGE)
            return redirect("account_email")
        return view(request, *args, **kwargs)

    return wrapper


def has_second_factor(user) -> bool:
    return Authenticator.objects.filter(user=user).exclude(type=Authenticator.Type.RECOVERY_CODES).exists()


def session_used_second_factor(request) -> bool:
    """Whether this session signed in (or re-authenticated) with a second factor."""
    return any(record.get("method") == "mfa" for record in get_authentication_records(request, request.user))


def security_email(*, user, template_prefix: str, context: dict | None = None) -> None:
    """Tell the account's owner about a change to their account (allauth sends its own for password, email and
    two-factor changes; this is for the others, e.g. a payout destination). `template_prefix` names
    `<prefix>_subject.txt` and `<prefix>_message.txt`. Rendered and queued like allauth's own emails
    (`AccountAdapter.send_mail`), inside the caller's transaction, so it goes out exactly when the change commits."""
    ctx = {"user": user, "timestamp": timezone.now(), "site_url": settings.SITE_URL, **(context or {})}
    AccountAdapter().send_mail(template_prefix, user.email, ctx)
