"""The sandbox's hosted pages (/sandbox-pay/): a payment page, a 3-D Secure challenge, payout onboarding.

They stand for the provider's own site: nothing here touches the marketplace's tables. Anyone with a
checkout's unguessable id may open it, as with a real provider's hosted page.
"""

from urllib.parse import urlencode

from django.conf import settings
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_http_methods

from . import engine
from .forms import BankAccountForm, SandboxCardForm
from .models import Checkout, ConnectedAccount


def _sandbox_only(view):
    """The sandbox's pages exist only while it is the site's provider (never beside real Stripe keys)."""

    def wrapped(request, *args, **kwargs):
        if settings.PAYMENT_PROVIDER != "sandbox":
            raise Http404()
        return view(request, *args, **kwargs)

    return wrapped


def _back(checkout: Checkout) -> HttpResponseRedirect:
    """Back to the merchant's return URL, with only the checkout id."""
    separator = "&" if "?" in checkout.return_url else "?"
    return HttpResponseRedirect(f"{checkout.return_url}{separator}{urlencode({'session_id': checkout.pk})}")


@_sandbox_only
@require_http_methods(["GET", "POST"])
def checkout_page(request, checkout_id):
    checkout = engine.checkout_refresh(get_object_or_404(Checkout, pk=checkout_id))
    if checkout.status == Checkout.Status.CHALLENGE:
        return render(request, "sandbox/challenge.html", {"checkout": checkout})
    if checkout.status != Checkout.Status.OPEN:
        return _back(checkout)
    form = SandboxCardForm(request.POST or None)
    if request.method == "POST" and request.POST.get("cancel"):
        return _back(engine.checkout_cancel(checkout.pk))
    if request.method == "POST" and form.is_valid():
        month, year = form.cleaned_data["expiry"]
        try:
            checkout = engine.checkout_pay(
                checkout.pk,
                number=form.cleaned_data["card_number"],
                exp_month=month,
                exp_year=year,
                cvc=form.cleaned_data["cvc"],
            )
        except engine.SandboxError as error:
            form.add_error("card_number", error.message)
        else:
            if checkout.status == Checkout.Status.CHALLENGE:
                return render(request, "sandbox/challenge.html", {"checkout": checkout})
            return _back(checkout)
    return render(
        request, "sandbox/checkout.html", {"checkout": checkout, "form": form}, status=400 if form.errors else 200
    )


@_sandbox_only
@require_http_methods(["POST"])
def challenge_answer(request, checkout_id):
    checkout = get_object_or_404(Checkout, pk=checkout_id)
    return _back(engine.challenge_answer(checkout.pk, passed=request.POST.get("result") == "pass"))


@_sandbox_only
@require_http_methods(["GET", "POST"])
def onboarding_page(request, account_id):
    account = get_object_or_404(ConnectedAccount, pk=account_id)
    return_url = request.GET.get("return", "/")
    if not return_url.startswith("/") or return_url.startswith("//"):
        return_url = "/"
    form = BankAccountForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        engine.account_onboard(account.pk, bank_account=form.cleaned_data["account_number"])
        return HttpResponseRedirect(return_url)
    return render(request, "sandbox/onboarding.html", {"account": account, "form": form, "return_url": return_url})
