from allauth.account import views as account_views
from allauth.account.decorators import secure_admin_login
from django.conf import settings
from django.contrib import admin
from django.urls import include, path

from . import pages, views
from .observability import metrics_view

# The admin's own password form would skip allauth's rate limits, lockout and second factor: send it to ours.
admin.site.login = secure_admin_login(admin.site.login)

urlpatterns = [
    path("", views.home, name="home"),
    path("dashboard/", views.dashboard, name="dashboard"),
    path("help/", pages.help_page, name="help"),
    path("terms/", pages.terms, name="terms"),
    path("privacy/", pages.privacy, name="privacy"),
    path("favicon.ico", views.favicon, name="favicon"),
    path("healthz", views.healthz, name="healthz"),
    path("readyz", views.readyz, name="readyz"),
    path("metrics", metrics_view, name="metrics"),
    path("accounts/settings/", views.account_settings, name="account_settings"),
    path("accounts/profile/", views.profile_edit, name="profile_edit"),
    path("language/", views.language_set, name="set_language"),
    # The short name other apps' templates and tests use for the login page (allauth's is "account_login").
    path("accounts/login/", account_views.login, name="login"),
    path("accounts/", include("allauth.urls")),
    path("freelancers/", views.directory, name="directory"),
    path("freelancers/<int:user_id>/", views.freelancer_detail, name="freelancer_detail"),
    path("wallet/", include("escrow.urls")),
    path("sandbox-pay/", include("escrow.sandbox.urls")),  # the sandbox provider's own pages
    path("messages/", include("messaging.urls")),
    path("notifications/", include("messaging.notification_urls")),
    path("jobs/", include("jobs.urls")),
    path("feedback/", include("feedback.urls")),
    path("", include("contracts.urls")),
    path("admin/", admin.site.urls),
]

handler500 = "marketplace.pages.server_error"

if settings.ANYMAIL.get("WEBHOOK_SECRET"):
    # The provider's bounce/complaint webhooks (messaging/signals.py); only with a shared secret, so
    # nobody else can mark an address undeliverable.
    urlpatterns.insert(0, path("anymail/", include("anymail.urls")))
