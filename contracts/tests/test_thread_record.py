"""Each offer's thread carries on into the contract, and every state change is posted into it."""

import pytest
from django.urls import reverse

from contracts import services
from contracts.rules import OfferTerms
from contracts.services import FUNDED_NOTICE
from contracts.tests.factories import fund_milestones, make_offer, milestone_terms, terms
from messaging.models import Message
from messaging.services import message_post

pytestmark = pytest.mark.django_db


def events(thread):
    return list(thread.messages.filter(kind=Message.Kind.EVENT).order_by("id").values_list("body", flat=True))


def test_the_offer_thread_records_the_negotiation_and_the_whole_contract():
    offer = make_offer(count=2, amount="300.00")
    thread = offer.thread
    assert set(thread.participants.values_list("user", flat=True)) == {offer.client_id, offer.freelancer_id}
    message_post(thread=thread, sender=offer.freelancer, body="Can the first milestone include a logo?")
    services.offer_propose_revision(
        offer_id=offer.pk,
        actor=offer.freelancer,
        terms=OfferTerms(**{**terms().__dict__, "message": "Added the logo."}),
        milestones=milestone_terms(2, "350.00"),
        seen_revision=1,
    )
    contract = services.offer_accept(offer_id=offer.pk, actor=offer.client, revision_number=2)
    first = contract.milestones.first()
    fund_milestones(contract, first)
    services.milestone_submit(milestone_id=first.pk, actor=contract.freelancer, message="Done", links=[])
    services.milestone_request_changes(milestone_id=first.pk, actor=contract.client, note="Bigger logo please")
    services.milestone_submit(milestone_id=first.pk, actor=contract.freelancer, message="Bigger", links=[])
    services.milestone_approve(milestone_id=first.pk, actor=contract.client)
    last = contract.milestones.last()
    change = services.milestone_change_propose(
        contract_id=contract.pk, actor=contract.client, kind="delete", milestone_id=last.pk
    )
    services.milestone_change_decide(change_id=change.pk, actor=contract.freelancer, accept=True)
    services.contract_end(contract_id=contract.pk, actor=contract.client)

    lines = events(thread)
    expected = [
        "sent a fixed-price offer",
        "proposed changes: revision 2. Note: Added the logo.",
        "accepted revision 2",
        "started the contract",
        "funded “Milestone 1” ($350.00 is now held in escrow)",
        "submitted work on “Milestone 1”",
        "requested changes on “Milestone 1”: Bigger logo please",
        "approved “Milestone 1”",
        "released payment for “Milestone 1” ($315.00 released to",
        "proposed removing the milestone “Milestone 2”",
        "cancelled “Milestone 2”: Removed by agreement.",
        "ended the contract",
    ]
    for phrase in expected:
        assert any(phrase in line for line in lines), (phrase, lines)
    assert thread.messages.filter(kind=Message.Kind.MESSAGE).count() == 1  # chat and record side by side
    thread.refresh_from_db()
    assert thread.link_url == contract.get_absolute_url()


def test_while_a_milestone_is_funded_the_message_box_says_messages_start_no_review():
    offer = make_offer(count=1)
    contract = services.offer_accept(offer_id=offer.pk, actor=offer.freelancer, revision_number=1)
    milestone = contract.milestones.get()
    thread = offer.thread

    fund_milestones(contract, milestone)
    thread.refresh_from_db()
    assert thread.notice == FUNDED_NOTICE

    services.milestone_submit(milestone_id=milestone.pk, actor=contract.freelancer, message="Done", links=[])
    thread.refresh_from_db()
    assert thread.notice == ""


def test_the_contract_page_shows_the_thread_to_the_parties(client):
    offer = make_offer(count=1)
    contract = services.offer_accept(offer_id=offer.pk, actor=offer.freelancer, revision_number=1)
    message_post(thread=offer.thread, sender=offer.client, body="Welcome aboard <b>Felix</b>!")
    client.force_login(contract.freelancer)

    body = client.get(contract.get_absolute_url()).content.decode()

    assert "Messages and record" in body
    assert "Welcome aboard &lt;b&gt;Felix&lt;/b&gt;!" in body
    assert reverse("messaging:poll", args=[offer.thread.pk]) in body


def test_the_contract_page_shows_the_latest_messages_and_loads_earlier_ones(client):
    from messaging.selectors import EMBEDDED_PAGE_SIZE
    from messaging.tests.factories import post_messages

    offer = make_offer(count=1)
    contract = services.offer_accept(offer_id=offer.pk, actor=offer.freelancer, revision_number=1)
    messages = post_messages(offer.thread, offer.client, EMBEDDED_PAGE_SIZE + 5, prefix="Note")
    client.force_login(contract.freelancer)

    body = client.get(contract.get_absolute_url()).content.decode()

    shown = [m for m in messages if f">{m.body}<" in body]
    assert shown == messages[-EMBEDDED_PAGE_SIZE:]
    assert "Load earlier messages" in body and f"before={shown[0].pk}" in body


def test_the_other_party_is_notified_of_each_step_and_the_actor_is_not():
    from messaging.models import Notification

    offer = make_offer(count=1, amount="120.00")
    assert Notification.objects.filter(user=offer.freelancer, text__contains="sent a fixed-price offer").exists()
    contract = services.offer_accept(offer_id=offer.pk, actor=offer.freelancer, revision_number=1)
    assert Notification.objects.filter(user=offer.client, text__contains="accepted revision 1").exists()
    milestone = contract.milestones.get()
    fund_milestones(contract, milestone)

    funded = Notification.objects.filter(text__contains="$120.00 is now held in escrow")
    assert list(funded.values_list("user", flat=True)) == [contract.freelancer_id]
    assert not Notification.objects.filter(user=offer.client, text__contains="sent a fixed-price offer").exists()


def test_on_a_phone_the_menu_button_shows_a_dot_when_something_is_unread(client):
    offer = make_offer(count=1)
    client.force_login(offer.client)
    assert 'id="nav-unread-dot"' not in client.get("/dashboard/").content.decode()

    message_post(thread=offer.thread, sender=offer.freelancer, body="A question about the scope")

    assert 'id="nav-unread-dot"' in client.get("/dashboard/").content.decode()
