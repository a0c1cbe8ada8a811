"""What every contracts view shares: refused actions become clear 4xx pages."""

from functools import wraps

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import render
from django_fsm import TransitionNotAllowed

from contracts import policy
from escrow.errors import EscrowError
from marketplace.money import format_money


def posted_int(value) -> int:
    """A posted number, or 0 for anything that is not one (a tampered form gets a clear refusal, not a 500)."""
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def _message(error: Exception) -> str:
    if isinstance(error, ValidationError):
        return " ".join(error.messages)
    if isinstance(error, EscrowError):
        return error.user_message
    return str(error) or "That action is not allowed."


def refusals_as_pages(view):
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        try:
            return view(request, *args, **kwargs)
        except (PermissionDenied, TransitionNotAllowed, ValidationError, EscrowError) as error:
            status = (
                403 if isinstance(error, PermissionDenied) else 409 if isinstance(error, TransitionNotAllowed) else 400
            )
            back = request.META.get("HTTP_REFERER") or ""
            if not back.startswith(request.build_absolute_uri("/")):
                back = ""
            context = {"message": _message(error), "back": back}
            return render(request, "contracts/refused.html", context, status=status)

    return wrapper


def flash_done(request, name: str, milestone, **values) -> None:
    """The success message after milestone action `name`: its `done` sentence from the policy's table."""
    contract = milestone.contract
    values = {k: format_money(v) if k in ("amount", "held") else v for k, v in values.items()}
    text = policy.MILESTONE_ACTIONS[name].done_message(
        title=milestone.title, freelancer=contract.freelancer_name, client=contract.client_name, **values
    )
    messages.success(request, text)
