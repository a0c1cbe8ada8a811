"""The wallet: balances, statement (page and CSV) and withdrawals. Only ever the logged-in user's own data."""

import csv
import re
import uuid

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from marketplace.accounts import verified_email_required
from marketplace.money import format_money

from .errors import EscrowError
from .forms import WithdrawForm
from .selectors import user_balances, user_statement
from .services import payout_request

STATEMENT_PAGE_SIZE = 25
KEY = re.compile(r"^[0-9a-f]{32}$")


def _wallet_page(request, *, form=None, balances=None, status=200):
    balances = balances or user_balances(request.user)
    form = form or WithdrawForm(available=balances["available"], initial={"amount": balances["available"]})
    page = Paginator(user_statement(request.user), STATEMENT_PAGE_SIZE).get_page(request.GET.get("page"))
    context = {"balances": balances, "form": form, "page": page}
    return render(request, "escrow/wallet.html", context, status=status)


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
        return _wallet_page(request, form=form, balances=balances, status=400)
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
    messages.success(request, f"{format_money(payout.amount)} is on its way to your bank account.")
    return redirect("escrow:wallet")


def _cell(text: str) -> str:
    # Spreadsheets run cells starting with = + - @ as formulas; labels come from users.
    return f"'{text}" if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


class _Echo:
    """A file-like object whose write() returns the line: csv.writer then yields rows one by one."""

    def write(self, value: str) -> str:
        return value


def _statement_lines(request):
    writer = csv.writer(_Echo())
    yield writer.writerow(["Date", "Account", "Description", "For", "Link", "Amount", "Balance"])
    for row in user_statement(request.user).iterator(chunk_size=2000):
        hold = row.entry.hold
        yield writer.writerow(
            [
                timezone.localtime(row.entry.created_at).strftime("%Y-%m-%d %H:%M %Z"),
                row.account.get_kind_display(),
                _cell(row.entry.memo),
                _cell(hold.label) if hold else "",
                request.build_absolute_uri(hold.link_url) if hold and hold.link_url else "",
                f"{row.amount:.2f}",
                f"{row.running_balance:.2f}",
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
