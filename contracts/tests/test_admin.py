import pytest
from django.urls import reverse

from contracts import services
from contracts.models import ContractEvent, Milestone
from contracts.tests.factories import act, fund_milestones, make_contract, make_offer
from marketplace.tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


def test_admin_lists_search_and_filter(staff_client):
    contract = make_contract(count=2)
    make_offer()

    for name in ["offer", "contract", "milestone", "contractevent", "milestonechange", "offerrevision"]:
        assert staff_client.get(reverse(f"admin:contracts_{name}_changelist")).status_code == 200
    found = staff_client.get(reverse("admin:contracts_contract_changelist"), {"q": contract.client.email})
    assert contract.title in found.content.decode()
    drafts = staff_client.get(reverse("admin:contracts_milestone_changelist"), {"state__exact": "draft"})
    assert "Milestone 1" in drafts.content.decode()


def test_contract_page_in_admin_shows_the_audit_trail_read_only(staff_client):
    contract = make_contract(count=1)

    body = staff_client.get(reverse("admin:contracts_contract_change", args=[contract.pk])).content.decode()

    assert "contract_started" in body
    assert 'name="events-0-note"' not in body  # inline is read-only


def test_staff_transition_button_goes_through_the_service(staff_client):
    contract = make_contract(count=1)
    milestone = contract.milestones.get()
    url = reverse("admin:contracts_milestone_change", args=[milestone.pk])
    assert "Cancel milestone" in staff_client.get(url).content.decode()

    action = reverse("admin:contracts_milestone_action", args=[milestone.pk, "cancel"])
    assert staff_client.get(action).status_code == 200  # a confirmation page first
    staff_client.post(action, {"note": "Duplicate milestone"})

    milestone.refresh_from_db()
    assert milestone.state == Milestone.State.CANCELLED
    event = ContractEvent.objects.get(kind="cancel")
    assert event.actor.is_staff and event.from_state == "draft"


def test_admin_cannot_edit_or_delete_contract_records(staff_client):
    contract = make_contract(count=1)

    assert staff_client.post(reverse("admin:contracts_contract_delete", args=[contract.pk])).status_code == 403
    assert staff_client.get(reverse("admin:contracts_offer_add")).status_code == 403


@pytest.mark.parametrize(("decision", "state"), [("resolve_release", "released"), ("resolve_refund", "refunded")])
def test_staff_decide_a_dispute_in_admin_with_a_written_decision(staff_client, decision, state):
    from decimal import Decimal

    from escrow.selectors import user_balances
    from escrow.tests.helpers import assert_ledger_consistent

    contract = make_contract(count=1, amount="100.00")
    milestone = contract.milestones.get()
    fund_milestones(contract, milestone)
    act(milestone_id=milestone.pk, actor=contract.freelancer, name="submit")
    act(milestone_id=milestone.pk, actor=contract.client, name="dispute", note="Incomplete")
    url = reverse("admin:contracts_milestone_action", args=[milestone.pk, decision])

    assert "Written decision" in staff_client.get(url).content.decode()
    staff_client.post(url, {"note": "The delivered files match the agreed scope."})

    milestone.refresh_from_db()
    assert milestone.state == state
    event = ContractEvent.objects.get(kind=decision)
    assert event.note == "The delivered files match the agreed scope."
    paid = user_balances(contract.freelancer)["available"]
    assert paid == (Decimal("90.00") if state == "released" else 0)
    assert_ledger_consistent()


def test_the_contract_record_is_append_only_in_the_orm_and_the_database():
    from django.db import DatabaseError, connection, transaction

    from marketplace.appendonly import ImmutableRecordError

    contract = make_contract(count=1)
    event = ContractEvent.objects.get()
    revision = contract.agreed_revision

    with pytest.raises(ImmutableRecordError):
        event.save()
    with pytest.raises(ImmutableRecordError):
        ContractEvent.objects.all().delete()
    with pytest.raises(ImmutableRecordError):
        revision.milestones.update(amount=1)
    for table in ("contracts_contractevent", "contracts_offermilestone"):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f"UPDATE {table} SET id = id")  # noqa: S608 - fixed table names


def test_one_click_evidence_bundle_for_staff(staff_client, client):
    import hashlib
    import io
    import json
    import zipfile

    from django.core.files.uploadedfile import SimpleUploadedFile

    from messaging.services import message_post

    contract = make_contract(count=1, amount="100.00")
    milestone = contract.milestones.get()
    fund_milestones(contract, milestone)
    services.milestone_submit(
        milestone_id=milestone.pk,
        actor=contract.freelancer,
        message="The files",
        links=["https://example.com/demo"],
        files=[SimpleUploadedFile("notes.txt", b"final notes", content_type="text/plain")],
    )
    message_post(thread=contract.offer.thread, sender=contract.client, body="Looks incomplete to me.")
    url = reverse("admin:contracts_contract_evidence", args=[contract.pk])
    assert url in staff_client.get(reverse("admin:contracts_contract_change", args=[contract.pk])).content.decode()

    response = staff_client.get(url)

    assert response["Content-Disposition"].startswith("attachment")
    bundle = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    names = set(bundle.namelist())
    assert {"contract.json", "revisions.json", "events.csv", "submissions.json", "thread.txt", "SHA256SUMS"} <= names
    terms = json.loads(bundle.read("contract.json"))
    assert terms["milestones"][0]["state"] == "submitted" and terms["milestones"][0]["held_in_escrow"] == "100.00"
    submitted = json.loads(bundle.read("submissions.json"))[0]["files"][0]
    assert submitted["unchanged"] and bundle.read(submitted["path"]) == b"final notes"
    assert submitted["sha256_recorded"] == hashlib.sha256(b"final notes").hexdigest()
    assert "Looks incomplete to me." in bundle.read("thread.txt").decode()
    assert "submit" in bundle.read("events.csv").decode()
    for line in bundle.read("SHA256SUMS").decode().splitlines():
        digest, name = line.split("  ", 1)
        assert hashlib.sha256(bundle.read(name)).hexdigest() == digest

    client.force_login(contract.client)  # a party is not staff
    assert client.get(url).status_code == 302


@pytest.mark.parametrize("model", ["milestone", "dispute"])
def test_a_change_page_for_what_is_not_an_id_is_a_404(staff_client, model):
    # e.g. a stylesheet's relative @import resolved against a change page's URL
    assert staff_client.get(f"/admin/contracts/{model}/7/change/widgets.css/change/").status_code == 404
    assert staff_client.get(f"/admin/contracts/{model}/999999/change/").status_code in (302, 404)
