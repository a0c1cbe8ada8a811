"""Each contract event as an email: short subject without the note, what happened, the deadline in the
recipient's timezone, a button to the item; the HTML and text parts say the same."""

from datetime import UTC, datetime

import pytest
import time_machine
from django.core import mail
from django.urls import reverse

from contracts import services
from contracts.emails import SUBJECTS, event_email
from contracts.events import SPECS, EventKind, Notify, event_link, event_links, event_recipients
from contracts.models import ContractEvent
from contracts.tests.factories import fund_milestones, make_contract, make_offer
from marketplace.tests.factories import FreelancerFactory, UserFactory
from messaging import emails

pytestmark = pytest.mark.django_db

NOTE = "Please use the darker blue from our brand book, and mind the kerning on the W"
LONG_TITLE = "Logo design for the spring campaign, with every variant the brand book lists " * 2
DATA = {
    "amount": "400.00",
    "released": "400.00",
    "fee": "40.00",
    "received": "360.00",
    "refunded": "100.00",
    "remaining": "300.00",
    "to_freelancer": "250.00",
    "to_client": "150.00",
    "review_deadline": "2026-12-08T13:05:00+00:00",
    "quiet_since": "2026-10-01T10:00:00+00:00",
    "ends_at": "2026-12-01T10:00:00+00:00",
    "due_date": "2026-11-02",
    "submission": 1,
    "dispute": 1,
    "files": 2,
    "change": "add “Extra icons”",
    "revision": 1,
}
EMAILED = [kind for kind, spec in SPECS.items() if spec.notify != Notify.NOBODY]


def test_every_kind_has_a_subject():
    assert set(SUBJECTS) == set(EventKind)


@pytest.fixture
def contract(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):  # its emails sent: later ones start new emails
        contract = make_contract(
            client=UserFactory(name="Clara Client", timezone="Europe/Berlin"),
            freelancer=FreelancerFactory(name="Felix Freelancer", timezone="America/New_York"),
            count=1,
        )
    contract.milestones.update(title=LONG_TITLE[:120])
    return contract


@pytest.mark.parametrize("kind", EMAILED)
def test_each_emailed_kind_reads_well_in_both_parts(contract, kind):
    milestone = contract.milestones.get()
    event = ContractEvent(
        contract=contract, milestone=milestone, actor=contract.client, kind=kind.value, note=NOTE, data=DATA
    )
    recipients = event_recipients(event) or [contract.freelancer]
    for user in recipients:
        section = event_email(event, user)
        rendered = emails.render(user=user, sections=[section], subject=section.subject)

        assert len(rendered.subject) <= 78, rendered.subject
        assert rendered.subject == section.subject and (": " in rendered.subject or "? " in rendered.subject)
        assert "darker blue" not in rendered.subject  # the user's own note never makes the subject
        assert "(s)" not in rendered.text
        assert section.url.startswith("http") and f"/contracts/{contract.pk}/" in section.url
        for part in (rendered.text, rendered.html):
            assert section.paragraphs[0].split("“")[0].strip()[:20] in part
            assert section.url in part
            assert "/notifications/preferences/" in part
            assert "darker blue" in part  # quoted in the body


def test_submitted_work_tells_the_client_the_exact_review_deadline_in_their_timezone(
    contract, settings, django_capture_on_commit_callbacks
):
    settings.SITE_URL = "https://milestone.example"
    milestone = contract.milestones.get()
    submitted_at = datetime(2026, 11, 24, 13, 5, tzinfo=UTC)
    with time_machine.travel(submitted_at, tick=False):
        with django_capture_on_commit_callbacks(execute=True):
            fund_milestones(contract, milestone)
        mail.outbox = []
        with django_capture_on_commit_callbacks(execute=True):
            services.milestone_submit(
                milestone_id=milestone.pk, actor=contract.freelancer, message=NOTE, links=[], files=()
            )

    (message,) = [m for m in mail.outbox if m.to == [contract.client.email]]
    assert message.subject.startswith("Work submitted: Logo design for the spring")
    assert len(message.subject) <= 78 and "darker blue" not in message.subject
    (html,) = [content for content, mimetype in message.alternatives if mimetype == "text/html"]
    deadline = "Review by Tue, Dec 8, 2026, 14:05 CET — after that the payment releases automatically."
    assert deadline in message.body and deadline in html
    assert f"Review the work: https://milestone.example/contracts/{contract.pk}/milestones/{milestone.pk}/" in (
        message.body
    )

    # The same event told to the freelancer (another timezone) names their own clock.
    event = ContractEvent.objects.get(milestone=milestone, kind=EventKind.SUBMIT)
    section = event_email(event, contract.freelancer)
    assert "Tue, Dec 8, 2026, 08:05 EST" in " ".join(section.paragraphs)


def test_a_release_email_states_the_amounts(contract):
    milestone = contract.milestones.get()
    event = ContractEvent(contract=contract, milestone=milestone, actor=None, kind=EventKind.RELEASE.value, data=DATA)
    text = " ".join(event_email(event, contract.freelancer).paragraphs)
    assert "$360.00 released to Felix Freelancer after a $40.00 platform fee" in text
    assert "approved and paid automatically" in text


@pytest.mark.parametrize(("count", "words"), [(1, "in 1 milestone."), (3, "in 3 milestones.")])
def test_a_new_offer_email_counts_milestones_with_the_right_plural(count, words, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        offer = make_offer(count=count)
    (message,) = [m for m in mail.outbox if m.to == [offer.freelancer.email]]
    assert message.subject.startswith("New offer: ")
    assert words in message.body


def test_links_of_many_events_are_each_events_own_link():
    """`event_links` (one `reverse` per URL name, for a sweep's batch) gives each event the link `event_link` gives it:
    its milestone's page, the contract's page, or the quiet-contract page."""
    contract = make_contract(count=2)
    first, second = contract.milestones.order_by("pk")[:2]
    events = [
        ContractEvent(contract=contract, milestone=first, kind=EventKind.APPROVE),
        ContractEvent(contract=contract, milestone=second, kind=EventKind.RELEASE),
        ContractEvent(contract=contract, kind=EventKind.CONTRACT_QUIET),
        ContractEvent(contract=contract, kind=EventKind.CONTRACT_ENDED),
    ]

    assert (
        event_links(events)
        == [event_link(event) for event in events]
        == [
            reverse("contracts:milestone_detail", args=[contract.pk, first.pk]),
            reverse("contracts:milestone_detail", args=[contract.pk, second.pk]),
            reverse("contracts:contract_quiet", args=[contract.pk]),
            reverse("contracts:contract_detail", args=[contract.pk]),
        ]
    )
