"""The webhook inbox's HTTP side: one endpoint per provider (/wallet/webhooks/<provider>/)."""

from django.http import Http404, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from .payments import webhook_receive
from .providers import PROVIDERS

__all__ = ["webhook", "webhook_receive"]


@csrf_exempt  # the provider cannot send our CSRF token; the signature authenticates the request instead
@require_POST
def webhook(request, provider):
    if provider not in PROVIDERS:
        raise Http404()
    status = webhook_receive(provider=provider, body=request.body, headers=request.headers)
    return HttpResponse(status=status)
