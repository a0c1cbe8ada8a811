from django.contrib.auth.decorators import login_required
from django.http import Http404


@login_required
def offer_create(request):
    raise Http404("Offers are being built.")  # replaced by the offers view in the contracts issue
