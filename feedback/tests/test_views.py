"""The feedback page (double-blind, outsiders 404), the profile and directory track records, the dashboard."""

from decimal import Decimal

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from contracts.tests.factories import make_contract
from feedback.models import CRITERIA, Feedback, Role
from feedback.selectors import earnings_band
from feedback.tests.factories import ended_contract, leave
from marketplace.services import profile_update
from marketplace.tests.factories import FreelancerFactory, UserFactory

pytestmark = pytest.mark.django_db

XSS = "<script>alert(1)</script>"


@pytest.fixture
def contract():
    return ended_contract(amount="1500.00")


def url(contract):
    return reverse("feedback:contract", args=[contract.pk])


def post_feedback(client, contract, role, stars="4", comment="Lovely to work with.", note="A private word."):
    data = {f"score_{key}": stars for key, _, _ in CRITERIA[role]}
    data.update(comment=comment, private_note=note)
    return client.post(url(contract), data)


def test_outsiders_get_404_and_anonymous_users_log_in(client, contract):
    response = client.get(url(contract))
    assert response.status_code == 302 and response.url.startswith(reverse("login"))

    client.force_login(UserFactory(is_staff=True))
    assert client.get(url(contract)).status_code == 404
    assert post_feedback(client, contract, Role.CLIENT).status_code == 404
    assert not Feedback.objects.exists()


def test_an_active_contract_has_no_feedback_yet(client):
    active = make_contract(count=1)
    client.force_login(active.client)

    assert "Feedback opens when the contract ends" in client.get(url(active)).content.decode()
    assert post_feedback(client, active, Role.CLIENT).status_code == 400
    assert not Feedback.objects.exists()


def test_double_blind_until_both_have_written(client, contract):
    # the client writes first
    client.force_login(contract.client)
    page = client.get(url(contract)).content.decode()
    assert "Quality of work" in page and "Clear requirements" not in page  # the client's criteria
    response = post_feedback(client, contract, Role.CLIENT, comment="Client says: superb.", note="Client's secret")
    assert response.status_code == 302
    page = client.get(url(contract)).content.decode()
    assert "Client says: superb." in page and "Client&#x27;s secret" in page  # their own, private note included
    assert "has not left feedback yet" in page

    # the freelancer learns that the client wrote, but not what
    client.force_login(contract.freelancer)
    page = client.get(url(contract)).content.decode()
    assert "has left feedback" in page
    assert "Client says: superb." not in page and "secret" not in page
    assert "Clear requirements" in page  # the freelancer's criteria

    # once both wrote, each sees the other's public feedback, never the other's private note
    post_feedback(
        client, contract, Role.FREELANCER, comment="Freelancer says: clear brief.", note="Freelancer's secret"
    )
    page = client.get(url(contract)).content.decode()
    assert "Client says: superb." in page and "Client&#x27;s secret" not in page
    client.force_login(contract.client)
    page = client.get(url(contract)).content.decode()
    assert "Freelancer says: clear brief." in page and "Freelancer&#x27;s secret" not in page


def test_a_second_post_is_refused_with_the_reason(client, contract):
    client.force_login(contract.client)
    post_feedback(client, contract, Role.CLIENT)

    response = post_feedback(client, contract, Role.CLIENT, comment="Changed my mind")

    assert response.status_code == 409
    assert "already left feedback" in response.content.decode()
    assert Feedback.objects.get().comment == "Lovely to work with."


def test_a_form_without_stars_explains_next_to_the_field(client, contract):
    client.force_login(contract.client)

    response = client.post(url(contract), {"comment": "No stars"})

    assert response.status_code == 200
    assert "This field is required." in response.content.decode()
    assert not Feedback.objects.exists()


def test_comments_are_inert(client, contract):
    leave(contract, Role.CLIENT, comment=XSS)
    leave(contract, Role.FREELANCER)
    client.force_login(contract.freelancer)

    for page in (client.get(url(contract)), client.get(reverse("freelancer_detail", args=[contract.freelancer_id]))):
        body = page.content.decode()
        assert XSS not in body and "&lt;script&gt;alert(1)&lt;/script&gt;" in body


def test_the_profile_shows_rating_comments_completed_contracts_and_an_earnings_band(client, contract):
    leave(contract, Role.CLIENT, stars=4, comment="Would hire again.")
    leave(contract, Role.FREELANCER)

    response = client.get(reverse("freelancer_detail", args=[contract.freelancer_id]))

    record = response.context["track_record"]
    assert (record.rating, record.ratings, record.completed) == (Decimal("4.00"), 1, 1)
    assert record.earned == Decimal("1350.00")  # $1,500 less the 10 % fee
    body = response.content.decode()
    assert "Would hire again." in body and "(1 rating)" in body
    assert "1 completed contract" in body and "$1K+ earned" in body


def test_a_profile_without_feedback_says_so(client, freelancer):
    body = client.get(reverse("freelancer_detail", args=[freelancer.pk])).content.decode()

    assert "No ratings yet" in body and "No feedback from clients yet" in body and "No earnings yet" in body


@pytest.mark.parametrize(
    ("amount", "band"),
    [
        ("0", "No earnings yet"),
        ("0.01", "Under $100 earned"),
        ("999.99", "$100+ earned"),
        ("1000", "$1K+ earned"),
        ("250000", "$100K+ earned"),
        ("1000000", "$1M+ earned"),
    ],
)
def test_earnings_bands(amount, band):
    assert earnings_band(Decimal(amount)) == band


def test_the_directory_shows_ratings_and_sorts_by_rating(client):
    best, good, unrated = (FreelancerFactory(name=name) for name in ("Zoe Best", "Adam Good", "Bea Unrated"))
    for freelancer in (best, good, unrated):  # the directory lists profiles with a headline
        profile_update(user=freelancer, headline="Designer", bio="", location="", skills=[])
    for freelancer, stars in ((best, 5), (good, 3)):
        contract = ended_contract(freelancer=freelancer)
        leave(contract, Role.CLIENT, stars=stars)
        leave(contract, Role.FREELANCER)

    by_name = client.get(reverse("directory"))
    assert [f.name for f in by_name.context["page"]] == ["Adam Good", "Bea Unrated", "Zoe Best"]
    by_rating = client.get(reverse("directory"), {"sort": "rating"})
    assert [f.name for f in by_rating.context["page"]] == ["Zoe Best", "Adam Good", "Bea Unrated"]
    body = by_rating.content.decode()
    assert 'data-rating="5.00"' in body and "No ratings yet" in body and "1 completed contract" in body
    assert 'name="sort" value="rating"' in body  # a search keeps the order
    assert client.get(reverse("directory"), {"sort": "bogus"}).context["sort"] == "name"


def _give_history(freelancer, contracts: int):
    for n in range(contracts):
        contract = ended_contract(freelancer=freelancer)
        leave(contract, Role.CLIENT, stars=1 + n % 5, comment=f"Comment {n}")
        leave(contract, Role.FREELANCER)


def test_the_profile_page_runs_a_constant_number_of_queries(client, client_user):
    freelancer = FreelancerFactory()
    profile_update(user=freelancer, headline="Dev", bio="", location="", skills=["python"])
    client.force_login(client_user)

    def queries():
        with CaptureQueriesContext(connection) as captured:
            assert client.get(reverse("freelancer_detail", args=[freelancer.pk])).status_code == 200
        return len(captured)

    _give_history(freelancer, 1)
    one = queries()
    _give_history(freelancer, 7)
    assert queries() == one


def test_the_directory_runs_a_constant_number_of_queries_sorted_by_rating(client):
    def queries():
        with CaptureQueriesContext(connection) as captured:
            response = client.get(reverse("directory"), {"sort": "rating"})
        return len(captured), len(response.context["page"])

    def freelancer_with_history():
        freelancer = FreelancerFactory()
        profile_update(user=freelancer, headline="Dev", bio="", location="", skills=["python", "django"])
        _give_history(freelancer, 2)

    freelancer_with_history()
    few = queries()
    for _ in range(4):
        freelancer_with_history()
    cache.clear()  # anonymous directory pages are cached for a minute; measure a fresh rendering
    many = queries()
    assert (few[1], many[1]) == (1, 5)
    assert few[0] == many[0] == 5  # count, the page (rating joined), skills, completed contracts, earnings


def test_the_dashboard_links_feedback_still_to_write(client, contract):
    client.force_login(contract.freelancer)

    body = client.get(reverse("dashboard")).content.decode()
    assert "Leave feedback" in body and url(contract) in body

    leave(contract, Role.FREELANCER)
    assert client.get(reverse("dashboard")).context["feedback_due"] == []


def test_the_ended_contract_page_links_its_feedback(client, contract):
    client.force_login(contract.client)

    body = client.get(contract.get_absolute_url()).content.decode()

    assert "Leave or read feedback" in body and url(contract) in body
