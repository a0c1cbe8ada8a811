from allauth.account import views as account_views
from allauth.account.decorators import secure_admin_login
from django.contrib import admin
from django.urls import include, path

from . import views

# The admin's own password form would skip allauth's rate limits, lockout and second factor: send it to ours.
admin.site.login = secure_admin_login(admin.site.login)

urlpatterns = [
    path("", views.home, name="home"),
    path("dashboard/", views.dashboard, name="dashboard"),
    path("healthz", views.healthz, name="healthz"),
    path("accounts/settings/", views.account_settings, name="account_settings"),
    path("accounts/profile/", views.profile_edit, name="profile_edit"),
    # The short name other apps' templates and tests use for the login page (allauth's is "account_login").
    path("accounts/login/", account_views.login, name="login"),
    path("accounts/", include("allauth.urls")),
    path("freelancers/", views.directory, name="directory"),
    path("freelancers/<int:user_id>/", views.freelancer_detail, name="freelancer_detail"),
    path("wallet/", include("escrow.urls")),
    path("messages/", include("messaging.urls")),
    path("notifications/", include("messaging.notification_urls")),
    path("jobs/", include("jobs.urls")),
    path("feedback/", include("feedback.urls")),
    path("", include("contracts.urls")),
    path("admin/", admin.site.urls),
]
