"""The wallet: balances, statement (page and CSV) and withdrawals. Only ever the logged-in user's own data."""

import contextlib
import csv
import re
import uuid

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from marketplace.accounts import verified_email_required
from marketplace.caching import user_page
from marketplace.money import ZERO, format_money

from .errors import EscrowError
from .forms import WithdrawForm
from .gateways import PaymentError
from .models import PaymentIntent, PayoutAccount
from .payments import payment_cancel as payment_cancel_service
from .payments import payment_refresh
from .selectors import user_balances, wallet_entries, wallet_months, wallet_rows, wallet_summary
from .services import payout_account_link, payout_account_refresh, payout_request

STATEMENT_PAGE_SIZE = 25
KEY = re.compile(r"^[0-9a-f]{32}$")
CHART_HEIGHT = 150  # the tallest bar, in the chart's SVG units


def _chart(months, field: str) -> dict:
    """Bars for the server-rendered chart of one series (the template draws them, no script)."""
    values = [getattr(month, field) for month in months]
    top = max(values, default=0) or 1
    bars = []
    for index, (month, value) in enumerate(zip(months, values, strict=True)):
        height = round(float(value / top) * CHART_HEIGHT, 1) if value else 0  # drawing only, never money
        bars.append({"month": month.month, "amount": value, "x": index * 50 + 9, "y": 160 - height, "height": height})
    return {"bars": bars, "total": sum(values, ZERO)}


def _wallet_page(request, *, form=None, status=200):
    """The wallet; with `form`, the withdrawal form as it was sent, with its errors (a POST: never from the cache)."""
    main = user_page(request, "escrow/_wallet.html", lambda: _wallet(request, form))
    return render(request, "escrow/wallet.html", {"main": main}, status=status)


def _wallet(request, form) -> dict:
    user = request.user
    summary = wallet_summary(user)
    form = form or WithdrawForm(available=summary["available"], initial={"amount": summary["available"]})
    page = Paginator(wallet_entries(user), STATEMENT_PAGE_SIZE).get_page(request.GET.get("page"))
    months = wallet_months(user)
    return {
        "summary": summary,
        "form": form,
        "page": page,
        "rows": wallet_rows(page.object_list, user=user),
        "earnings_chart": _chart(months, "earned") if summary["as_freelancer"] else None,
        "spending_chart": _chart(months, "spent") if summary["as_client"] else None,
        "payout_account": PayoutAccount.objects.filter(user=user).first() if summary["as_freelancer"] else None,
    }


@login_required
@require_GET
def wallet(request):
    return _wallet_page(request)


@verified_email_required  # logged in, with a confirmed email address
@require_POST
def withdraw(request):
    """First POST: check the amount and ask for confirmation. Second POST (confirm): make the payout."""
    balances = user_balances(request.user)
    form = WithdrawForm(request.POST, available=balances["available"])
    if not form.is_valid():
        return _wallet_page(request, form=form, status=400)
    amount = form.cleaned_data["amount"]
    key = request.POST.get("idempotency_key", "")
    if request.POST.get("confirm") != "yes" or not KEY.match(key):
        # A fresh key per confirmation page: a double click on "Confirm" sends it twice, and pays once.
        context = {"amount": amount, "remaining": balances["available"] - amount, "key": uuid.uuid4().hex}
        return render(request, "escrow/withdraw_confirm.html", context)
    try:
        payout = payout_request(user=request.user, amount=amount, idempotency_key=f"wallet:{request.user.pk}:{key}")
    except EscrowError as error:
        form.add_error("amount", error.user_message)
        return _wallet_page(request, form=form, status=400)
    messages.success(
        request, _("%(amount)s is on its way to your bank account.") % {"amount": format_money(payout.amount)}
    )
    return redirect("escrow:wallet")


def _cell(text: str) -> str:
    # Spreadsheets run cells starting with = + - @ as formulas; labels come from users.
    return f"'{text}" if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


class _Echo:
    """A file-like object whose write() returns the line: csv.writer then yields rows one by one."""

    def write(self, value: str) -> str:
        return value


CSV_CHUNK = 500


def _statement_lines(request):
    """The wallet's rows, every one of them: entries in chunks from the cursor, each chunk turned into rows
    with the same two queries as a page (so memory stays bounded by the chunk)."""
    user = request.user
    writer = csv.writer(_Echo())
    header = ["Date", "Type", "Details", "Contract", "Milestone", "Link", "Amount", "Amount (information)", "Reference"]
    yield writer.writerow([_(name) for name in header])
    chunk = []
    for line in wallet_entries(user).iterator(chunk_size=CSV_CHUNK):
        chunk.append(line)
        if len(chunk) == CSV_CHUNK:
            yield from _csv_rows(request, writer, chunk)
            chunk = []
    yield from _csv_rows(request, writer, chunk)


def _csv_rows(request, writer, lines):
    for row in wallet_rows(lines, user=request.user):
        link = row.link
        url = link.item_url if link else ""
        yield writer.writerow(
            [
                timezone.localtime(row.date).strftime("%Y-%m-%d %H:%M %Z"),
                str(row.type_label),
                _cell(row.detail),
                _cell(link.group) if link else "",
                _cell(link.item) if link else "",
                request.build_absolute_uri(url) if url else "",
                f"{row.amount:.2f}" if row.effect != "info" else "",
                f"{row.amount:.2f}" if row.effect == "info" else "",
                row.reference,
            ]
        )


@login_required
@require_GET
def statement_csv(request):
    """The whole statement, streamed: rows leave as the database cursor yields them (bounded memory,
    the first bytes go out at once), however long the user's history is."""
    response = StreamingHttpResponse(_statement_lines(request), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="statement.csv"'
    return response


def _own_intent(request, intent_id) -> PaymentIntent:
    # 404 for anyone but the payer: an outsider learns nothing about the payment.
    intent = PaymentIntent.objects.filter(pk=intent_id, payer=request.user).first()
    if intent is None or intent.kind == PaymentIntent.Kind.REFUND:
        raise Http404()
    return intent


def _safe_next(url: str) -> str:
    return url if url.startswith("/") and not url.startswith("//") else reverse("escrow:wallet")


PAYMENT_MESSAGES = {
    PaymentIntent.State.SUCCEEDED: (messages.SUCCESS, gettext_lazy("Payment confirmed: {amount} was paid.")),
    PaymentIntent.State.PROCESSING: (
        messages.INFO,
        gettext_lazy("Payment processing: we will confirm it as soon as the provider does. Nothing is funded yet."),
    ),
    PaymentIntent.State.FAILED: (messages.ERROR, gettext_lazy("The payment failed: {reason} Nothing was charged.")),
    PaymentIntent.State.CANCELED: (messages.WARNING, gettext_lazy("The payment was canceled. Nothing was charged.")),
    PaymentIntent.State.REQUIRES_ACTION: (messages.WARNING, gettext_lazy("The payment is not finished yet.")),
}


@login_required
@require_GET
def payment_return(request, intent_id):
    """Where the provider's hosted page sends the payer back (with only an id): ask the provider, then go on."""
    intent = _own_intent(request, intent_id)
    with contextlib.suppress(PaymentError):  # the webhook or the sweep confirms it later
        intent = payment_refresh(intent_id=intent.pk)
    _flash_payment(request, intent)
    return redirect(_safe_next(intent.next_url))


def _flash_payment(request, intent: PaymentIntent) -> None:
    level, text = PAYMENT_MESSAGES.get(intent.state, (messages.INFO, "Payment {state}."))
    reason = intent.failure_message or ""
    messages.add_message(
        request, level, text.format(amount=format_money(intent.amount), reason=reason, state=intent.state)
    )


@login_required
@require_GET
def payment_status(request, intent_id):
    intent = _own_intent(request, intent_id)
    return render(request, "escrow/payment_status.html", {"intent": intent, "next_url": _safe_next(intent.next_url)})


@login_required
@require_POST
def payment_cancel(request, intent_id):
    intent = _own_intent(request, intent_id)
    try:
        intent = payment_cancel_service(intent_id=intent.pk, actor=request.user)
    except PaymentError as error:
        messages.error(request, error.user_message)
    else:
        _flash_payment(request, intent)
    return redirect(_safe_next(intent.next_url))


@login_required
@require_POST
def payout_account_setup(request):
    """Send the user to the provider's page where they enter their bank details (never on our pages)."""
    url = payout_account_link(
        user=request.user,
        return_url=reverse("escrow:payout_account_return"),
        refresh_url=reverse("escrow:wallet"),
    )
    return redirect(url)


@login_required
@require_GET
def payout_account_return(request):
    account = PayoutAccount.objects.filter(user=request.user).first()
    if account is not None:
        account = payout_account_refresh(provider=account.provider, account_id=account.account_id)
    if account is not None and account.payouts_enabled:
        messages.success(request, _("Your payout account is set up: you can withdraw your earnings."))
    else:
        messages.warning(request, _("Your payout account is not finished yet."))
    return redirect("escrow:wallet")
