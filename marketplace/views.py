from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from . import health
from .forms import AccountSettingsForm, SignUpForm
from .services import user_create, user_role, user_update_settings


def home(request):
    return render(request, "marketplace/home.html", {"review_days": settings.REVIEW_PERIOD.days})


def signup(request):
    if request.user.is_authenticated:
        return redirect("dashboard")
    form = SignUpForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        user = user_create(
            email=data["email"],
            name=data["name"],
            password=data["password1"],
            role=data["role"],
            timezone=data["timezone"],
        )
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        messages.success(request, f"Welcome, {user.get_short_name()}! Your account is ready.")
        return redirect("dashboard")
    return render(request, "registration/signup.html", {"form": form})


@login_required
def dashboard(request):
    return render(request, "marketplace/dashboard.html")


@login_required
def account_settings(request):
    user = request.user
    initial = {"name": user.name, "role": user_role(user), "timezone": user.timezone}
    form = AccountSettingsForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        user_update_settings(user=user, **form.cleaned_data)
        messages.success(request, "Your settings were saved.")
        return redirect("account_settings")
    return render(request, "marketplace/account_settings.html", {"form": form})


@never_cache
@require_GET
def healthz(request):
    checks = {"database": health.database_ok(), "broker": health.broker_ok()}
    healthy = all(checks.values())
    body = {"status": "ok" if healthy else "unavailable"}
    body.update({name: "ok" if ok else "unavailable" for name, ok in checks.items()})
    return JsonResponse(body, status=200 if healthy else 503)
