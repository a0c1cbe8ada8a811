"""A user's own pages come from the cache until something they see changes (marketplace.caching.user_page).

The test settings also render every cached page again and compare (PAGE_CACHE_VERIFY), so every test that looks
at a page twice checks the cache; these tests switch that off: the point here is what the cache itself serves.
Each test runs in a transaction that never commits, so every write here is wrapped in `committed`, which runs the
commit hooks as a real commit would (the stamps are dropped there and only there).
"""

from datetime import timedelta
from decimal import Decimal
from unittest import mock

import pytest
import time_machine
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from contracts.tests.factories import act, fund_milestones, make_contract
from escrow.ledger import account_get, entry_post
from escrow.models import Account, Entry
from marketplace import caching
from marketplace.caching import STAMP_KEY, changed_uncommitted, user_pages_stale
from messaging.selectors import badge_cache_key
from messaging.services import _forget_badges as messaging_forget_badges

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _served_as_in_production(settings):
    settings.PAGE_CACHE_VERIFY = False
    settings.CACHE_DROP_AT_ONCE = False


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    """A block whose writes are followed by their commit hooks, as if it had committed."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


@pytest.fixture
def contract(client_user, freelancer, committed):
    with committed():
        return make_contract(client=client_user, freelancer=freelancer, count=2)


def browser(user) -> Client:
    """Logged in, with the CSRF cookie a first page sets (a cached page's key holds its secret)."""
    client = Client()
    client.force_login(user)
    client.get(reverse("dashboard"))
    return client


def queries(client, url) -> tuple[int, str]:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200
    return len(captured), response.content.decode()


PAGES = [
    lambda c: reverse("dashboard"),
    lambda c: reverse("contracts:contract_list"),
    lambda c: c.get_absolute_url(),
    lambda c: reverse("contracts:milestone_detail", args=[c.pk, c.milestones.first().pk]),
    lambda c: reverse("escrow:wallet"),
    lambda c: reverse("messaging:inbox"),
    lambda c: c.offer.thread.get_absolute_url(),
]


@pytest.mark.parametrize(
    "page", PAGES, ids=["dashboard", "contracts", "contract", "milestone", "wallet", "inbox", "thread"]
)
def test_a_page_seen_again_comes_from_the_cache_with_fewer_queries(contract, client_user, page, committed):
    clara = browser(client_user)
    url = page(contract)
    with committed():
        clara.get(url)  # a thread's first view marks it read, which is a change: its page is rendered again once
        user_pages_stale(client_user.pk)
    first, html = queries(clara, url)
    again, html_again = queries(clara, url)

    assert again < first
    assert html_again.count("<main") == html.count("<main") == 1


def test_money_moving_shows_on_both_parties_next_view(contract, client_user, freelancer, committed):
    clara, felix = browser(client_user), browser(freelancer)
    dashboard = reverse("dashboard")
    for who in (clara, felix):
        assert "$0.00" in who.get(reverse("escrow:wallet")).content.decode()
        who.get(dashboard)
    milestone = contract.milestones.order_by("position").first()

    with committed():
        fund_milestones(contract, milestone)  # the provider's confirmation: no request of either party

    assert "$100.00" in clara.get(reverse("escrow:wallet")).content.decode()  # in escrow, paid by her
    assert "$100.00" in felix.get(reverse("escrow:wallet")).content.decode()  # in escrow, for him
    with committed():
        act(milestone_id=milestone.pk, actor=freelancer, name="submit")
    assert "approved automatically in" in clara.get(dashboard).content.decode()


def test_each_user_has_their_own_copies(contract, client_user, freelancer):
    url = contract.get_absolute_url()
    as_client = browser(client_user).get(url).content.decode()
    as_freelancer = browser(freelancer).get(url).content.decode()

    assert "You are the client" in as_client and "You are the freelancer" not in as_client
    assert "You are the freelancer" in as_freelancer and "You are the client" not in as_freelancer


def test_a_change_made_past_the_services_shows_within_the_minute(contract, client_user):
    clara = browser(client_user)
    url = contract.get_absolute_url()
    heading = '<h1 class="h2 mb-0">Renamed in the admin</h1>'
    with time_machine.travel(timezone.now().replace(second=5), tick=False):
        clara.get(url)
        type(contract).objects.filter(pk=contract.pk).update(title="Renamed in the admin")
        assert heading not in clara.get(url).content.decode()  # the same minute: the cached copy
    with time_machine.travel(timezone.now().replace(second=5) + timedelta(minutes=1), tick=False):
        assert heading in clara.get(url).content.decode()


def test_dropping_the_stamp_and_a_new_csrf_secret_each_render_anew(contract, client_user, committed):
    clara = browser(client_user)
    url = reverse("dashboard")
    clara.get(url)
    cached, _ = queries(clara, url)

    with committed():
        user_pages_stale(client_user.pk)
    assert queries(clara, url)[0] > cached
    assert queries(clara, url)[0] == cached

    clara.cookies.pop("csrftoken", None)  # a new CSRF secret: the cached forms' tokens would not match it
    assert queries(clara, url)[0] > cached


def test_unknown_query_parameters_are_rendered_not_cached(contract, client_user):
    clara = browser(client_user)
    url = reverse("escrow:wallet")
    clara.get(url)
    cached, _ = queries(clara, url)

    assert queries(clara, url + "?page=1")[0] > cached  # its own key, rendered once
    assert queries(clara, url + "?page=1")[0] == cached
    made_up = [queries(clara, url + f"?x={n}")[0] for n in range(2)]
    assert made_up[0] == made_up[1] > cached  # never from the cache


def test_what_a_user_changes_themselves_shows_on_their_next_page(contract, client_user, committed):
    clara = browser(client_user)
    assert "Welcome, Clara" in clara.get(reverse("dashboard")).content.decode()
    settings_form = {"name": "Bea Client", "role": "hire", "timezone": "UTC", "refund_to": "credit", "language": "en"}

    with committed():
        assert clara.post(reverse("account_settings"), settings_form).status_code == 302

    assert "Welcome, Bea" in clara.get(reverse("dashboard")).content.decode()


def test_any_ledger_entry_drops_the_pages_of_the_users_it_concerns(freelancer, committed):
    """A payout the provider bounced, a correction by staff: money that moves with no request of the user and no
    event on a contract still shows on their next view."""
    felix = browser(freelancer)
    wallet = reverse("escrow:wallet")
    felix.get(wallet)
    assert "$12.34" not in felix.get(wallet).content.decode()

    with committed():
        entry_post(
            reference="correction:1",
            kind=Entry.Kind.BONUS,
            memo="A correction",
            postings=[
                (account_get(Account.Kind.USER_AVAILABLE, user=freelancer), Decimal("12.34")),
                (account_get(Account.Kind.GATEWAY), Decimal("-12.34")),
            ],
        )

    assert "$12.34" in felix.get(wallet).content.decode()


def test_a_change_drops_the_cache_at_commit_only_and_its_own_connection_reads_afresh_meanwhile(
    contract, client_user, django_capture_on_commit_callbacks
):
    """No cache call while the change's transaction holds its locks; the page and the header counts its own
    connection shows meanwhile are read afresh (and not stored); a rolled-back change leaves the cache alone."""
    clara = browser(client_user)
    url = reverse("dashboard")
    clara.get(url)
    cached, _ = queries(clara, url)

    with mock.patch.object(caching.cache, "delete_many") as delete_many:
        with django_capture_on_commit_callbacks() as hooks:
            with transaction.atomic():
                user_pages_stale(client_user.pk)
                messaging_forget_badges(client_user.pk)
            assert delete_many.call_count == 0
            assert changed_uncommitted(client_user.pk)
            assert queries(clara, url)[0] > cached  # rendered, and the header counted, afresh
            assert queries(clara, url)[0] > cached  # and not stored

            try:
                with transaction.atomic():
                    user_pages_stale(freelancer_id := contract.freelancer_id)
                    raise RuntimeError
            except RuntimeError:
                pass
            assert not changed_uncommitted(freelancer_id)  # rolled back: nothing to drop
        for hook in hooks:
            hook()
    assert {key for call in delete_many.call_args_list for key in call.args[0]} == {
        badge_cache_key(client_user.pk),
        STAMP_KEY.format(client_user.pk),
    }
    assert not changed_uncommitted(client_user.pk)
