"""The contract, milestone and offer pages as people read them: whole sentences, next steps, times with their
zone, the timeline, the error summary, and a page cost that does not grow with the contract."""

import re

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from contracts import policy
from contracts.events import SPECS, EventKind, event_text
from contracts.models import ContractEvent
from contracts.tests.factories import ContractFactory, MilestoneFactory, act, fund_milestones, make_contract
from contracts.tests.test_views import count_queries, offer_post, row

pytestmark = pytest.mark.django_db

# A sentence that stops before its object: "… submitted work on." / "… reminded the client about."
DANGLING = re.compile(r"\b(on|of|for|about|to|the|a|an|and)\.?$")
DATA = {
    "amount": "100.00",
    "fee": "10.00",
    "received": "90.00",
    "released": "100.00",
    "refunded": "100.00",
    "remaining": "20.00",
    "to_freelancer": "60.00",
    "to_client": "40.00",
    "submission": 2,
    "review_deadline": "2026-12-10T12:00:00+00:00",
    "revision": 1,
    "change": "Add “Logo”",
    "dispute": 1,
    "files": 1,
    "quiet_since": "2026-10-01T12:00:00+00:00",
    "ends_at": "2026-12-01T12:00:00+00:00",
    "due_date": "2026-11-01",
}


@pytest.mark.parametrize("kind", list(EventKind))
@pytest.mark.parametrize("acted_by", ["client", "platform"])
def test_every_event_kind_reads_as_a_whole_sentence(kind, acted_by):
    milestone = MilestoneFactory(title="Logo design")
    contract = milestone.contract
    found = SPECS[kind]
    event = ContractEvent(
        contract=contract,
        milestone=milestone,
        actor=contract.client if acted_by == "client" else None,
        kind=kind,
        data={name: DATA[name] for name in found.data},
    )

    text = event_text(event)

    who = contract.client.name if acted_by == "client" else "The platform"
    assert text.startswith(who + " "), text
    assert text.endswith("."), text
    assert "{" not in text and "}" not in text, text
    assert not DANGLING.search(text.rstrip(".").split(" (")[0]), text
    if "{milestone}" in str(found.sentence):
        assert "“Logo design”" in text, text
    event.note = "Please use the blue logo"
    assert event_text(event).endswith(": Please use the blue logo."), event_text(event)


@pytest.mark.parametrize("kind", [k for k, s in SPECS.items() if "{milestone}" in str(s.sentence)])
def test_an_event_that_names_no_milestone_still_ends_its_sentence(kind):
    contract = ContractFactory()
    event = ContractEvent(contract=contract, actor=contract.freelancer, kind=kind, data={})
    text = event_text(event)
    assert "a milestone" in text and text.endswith("."), text


def test_every_flash_is_a_whole_sentence_with_its_values():
    values = {
        "title": "Logo design",
        "freelancer": "Felix",
        "client": "Clara",
        "amount": "$90.00",
        "held": "$10.00",
        "number": 2,
    }
    taken_on_a_page = set(policy.PARTY_BUTTONS + policy.PARTY_DANGER_BUTTONS + policy.STAFF_ACTIONS) | {
        "propose_edit",
        "propose_remove",
        "propose_move",
    }
    for name, action in policy.MILESTONE_ACTIONS.items():
        if name not in taken_on_a_page:
            assert not action.done, name  # no page flashes it: escrow's payment page says it is done
            continue
        text = action.done_message(**values)
        assert text[0].isupper() and text.endswith("."), (name, text)
        assert ": done" not in text and str(action.label) not in text, (name, text)
        assert "{" not in text, (name, text)


def flashes(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


@pytest.mark.parametrize(
    ("name", "state", "actor", "post", "expected"),
    [
        ("request_changes", "submitted", "client", {"note": "Bigger"}, "Changes requested on “{title}”."),
        ("withdraw_submission", "submitted", "freelancer", {"note": ""}, "Submission of “{title}” withdrawn."),
        ("dispute", "funded", "client", {"note": "No work"}, "Dispute opened. The money for “{title}” stays"),
    ],
)
def test_the_flash_after_a_note_action_reads_naturally(client, name, state, actor, post, expected):
    contract = make_contract(count=1)
    milestone = contract.milestones.get()
    fund_milestones(contract, milestone)
    if state == "submitted":
        act(milestone_id=milestone.pk, actor=contract.freelancer, name="submit")
    client.force_login(getattr(contract, actor))

    response = client.post(reverse("contracts:milestone_action", args=[contract.pk, milestone.pk, name]), post)

    assert response.status_code == 302
    (text,) = flashes(response)
    assert text.startswith(expected.format(title=milestone.title)), text


def test_the_flashes_after_money_and_change_actions_read_naturally(client):
    contract = make_contract(count=3, amount="100.00")
    first, second, third = contract.milestones.order_by("position")
    fund_milestones(contract, first, second)
    act(milestone_id=first.pk, actor=contract.freelancer, name="submit")
    client.force_login(contract.client)
    url = reverse("contracts:milestone_approve", args=[contract.pk, first.pk])
    response = client.post(url, {"idempotency_key": "k" * 32})
    assert flashes(response)[-1:] == [f"Approved. $90.00 was released to {contract.freelancer_name}."]

    response = client.post(reverse("contracts:milestone_refund_request", args=[contract.pk, second.pk]))
    assert flashes(response)[-1:] == ["Refund requested. The money returns to you when the freelancer agrees."]

    response = client.post(reverse("contracts:milestone_remove", args=[contract.pk, third.pk]))
    assert flashes(response)[-1:] == [f"Removal proposed. “{third.title}” is removed when the other party accepts."]

    client.force_login(contract.freelancer)
    url = reverse("contracts:milestone_refund", args=[contract.pk, second.pk])
    response = client.post(url, {"amount": "100.00"})
    assert flashes(response)[-1:] == [f"Refunded. $100.00 went back to {contract.client_name}."]


def test_under_review_the_client_approves_and_the_freelancer_is_told_when_payment_comes(client):
    contract = make_contract(count=1)
    milestone = contract.milestones.get()
    fund_milestones(contract, milestone)
    act(milestone_id=milestone.pk, actor=contract.freelancer, name="submit")

    client.force_login(contract.client)
    body = client.get(contract.get_absolute_url()).content.decode()
    assert re.search(r'class="btn btn-sm btn-success" data-action="approve" data-main', body)
    assert re.search(r'class="btn btn-sm btn-outline-primary" data-action="request_changes"', body)

    client.force_login(contract.freelancer)
    body = client.get(contract.get_absolute_url()).content.decode()
    assert re.search(r'class="btn btn-sm btn-outline-secondary" data-action="withdraw_submission"', body)
    assert "data-main" not in body  # withdrawing is possible, not the next step
    assert "the client has until <time" in body and "payment releases automatically then" in body
    assert 'class="countdown" data-deadline="' in body


def test_the_main_button_is_each_roles_next_step(client):
    contract = make_contract(count=2)
    first, second = contract.milestones.order_by("position")
    fund_milestones(contract, first)
    client.force_login(contract.client)
    body = client.get(contract.get_absolute_url()).content.decode()
    assert re.search(r'btn-primary" data-action="fund" data-main', body)  # the client funds the draft
    client.force_login(contract.freelancer)
    body = client.get(contract.get_absolute_url()).content.decode()
    assert re.search(r'btn-primary" data-action="submit" data-main', body)  # the freelancer delivers
    assert re.search(r'btn-outline-danger" data-action="refund"', body)


def test_milestone_page_has_an_h1_and_times_with_their_zone(client):
    contract = make_contract(count=1)
    contract.client.timezone = "Europe/Berlin"
    contract.client.save()
    milestone = contract.milestones.get()
    fund_milestones(contract, milestone)
    act(milestone_id=milestone.pk, actor=contract.freelancer, name="submit")
    client.force_login(contract.client)

    body = client.get(reverse("contracts:milestone_detail", args=[contract.pk, milestone.pk])).content.decode()

    assert re.search(r"<h1[^>]*>Milestone 1: Milestone 1</h1>", body)
    stamps = re.findall(r'<time datetime="([^"]+)">([^<]+)</time>', body)
    with_time = [(iso, text) for iso, text in stamps if "T" in iso]
    assert with_time
    for iso, _text in with_time:
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+0[12]:00", iso), iso  # to the second, Berlin's offset
    assert any(re.fullmatch(r"[A-Z][a-z]{2} \d{1,2}, \d{4}, \d\d:\d\d CES?T", text) for _, text in with_time)
    assert not re.search(r'datetime="[^"]*\.\d', body)  # no microseconds anywhere
    record = body[body.index("data-record") :]
    assert f"{contract.freelancer.name} submitted work on “Milestone 1” (submission 1)." in record


def test_the_timeline_shows_each_milestones_life_in_order(client):
    contract = make_contract(count=2)
    first, second = contract.milestones.order_by("position")
    fund_milestones(contract, first)
    act(milestone_id=first.pk, actor=contract.freelancer, name="submit")
    act(milestone_id=first.pk, actor=contract.client, name="request_changes", note="More")
    act(milestone_id=first.pk, actor=contract.freelancer, name="submit")
    client.force_login(contract.client)

    response = client.get(contract.get_absolute_url())

    lives = {life.milestone.pk: [s.kind for s in life.steps] for life in response.context["timeline"]}
    assert lives[first.pk] == ["created", "fund", "submit", "request_changes", "submit", "review_ends"]
    assert lives[second.pk] == ["created"]
    body = response.content.decode()
    timeline = body[body.index('id="timeline"') :]
    first_life = timeline[timeline.index(f'data-timeline-milestone="{first.pk}"') :]
    steps = re.findall(r'data-step="(\w+)"', first_life[: first_life.index("</ol>")])
    assert steps == lives[first.pk]

    act(milestone_id=first.pk, actor=contract.client, name="approve")
    response = client.get(contract.get_absolute_url())
    life = next(life for life in response.context["timeline"] if life.milestone.pk == first.pk)
    assert [s.kind for s in life.steps][-2:] == ["approve", "release"]
    assert [s.at for s in life.steps] == sorted(s.at for s in life.steps)


def test_contract_page_shows_milestones_before_the_tabs_which_work_as_anchors(client):
    contract = make_contract(count=1)
    client.force_login(contract.client)
    body = client.get(contract.get_absolute_url()).content.decode()
    order = [body.index(marker) for marker in ('id="milestones"', "data-contract-tabs", 'id="activity"')]
    assert order == sorted(order)
    for pane in ("activity", "timeline", "terms", "messages"):
        assert f'href="#{pane}"' in body and f'id="{pane}"' in body
    assert "js/contract-tabs.js" in body and "js/countdown.js" in body


def _busy_contract(count: int):
    contract = ContractFactory()
    for milestone in MilestoneFactory.create_batch(count, contract=contract):
        for kind in ("fund", "submit", "request_changes", "submit"):
            ContractEvent.objects.create(contract=contract, milestone=milestone, actor=contract.client, kind=kind)
    return contract


def test_contract_and_milestone_pages_cost_the_same_queries_whatever_the_contract_size(client):
    small, large = _busy_contract(2), _busy_contract(10)
    large.client = small.client
    large.save()
    client.force_login(small.client)

    assert count_queries(client, small.get_absolute_url()) == count_queries(client, large.get_absolute_url())
    small_milestone, large_milestone = small.milestones.first(), large.milestones.first()
    small_url = reverse("contracts:milestone_detail", args=[small.pk, small_milestone.pk])
    large_url = reverse("contracts:milestone_detail", args=[large.pk, large_milestone.pk])
    assert count_queries(client, small_url) == count_queries(client, large_url)


def test_offer_form_lists_every_error_at_the_top_with_a_link_to_its_field(client, client_user, freelancer):
    client.force_login(client_user)
    rows = [row(), row(amount="1.00", days=-1)]
    response = client.post(reverse("contracts:offer_create"), offer_post(freelancer, rows, title=""))

    body = response.content.decode()
    summary = body[body.index('id="error-summary"') : body.index("</ul>", body.index('id="error-summary"'))]
    assert re.search(r'<div[^>]*id="error-summary"[^>]*autofocus', body)  # focus moves to the summary
    assert 'href="#id_title"' in summary
    assert 'href="#id_milestones-1-amount"' in summary and "Milestone 2, amount:" in summary
    assert 'href="#id_milestones-1-due_date"' in summary
    assert 'id="error_1_id_title"' in body  # still next to the field too
    legends = re.findall(r"<fieldset[^>]*>\s*<legend", body)
    assert len(legends) == body.count("<fieldset")  # every legend opens its fieldset


def test_landing_example_tells_one_story(client):
    body = client.get("/").content.decode()
    card = body[body.index('id="example-milestone"') :]
    card = card[: card.index("</div>\n      </div>")]
    assert 'data-example-state="submitted"' in card and "Submitted for review" in card
    assert "held in escrow" in card and "paid automatically in 5 days" in card
    assert "Funded" not in card


def test_the_countdown_is_server_text_with_its_deadline_for_the_script(client):
    contract = make_contract(count=1)
    milestone = contract.milestones.get()
    fund_milestones(contract, milestone)
    act(milestone_id=milestone.pk, actor=contract.freelancer, name="submit")
    client.force_login(contract.client)  # timezone UTC

    body = client.get(contract.get_absolute_url()).content.decode()

    assert re.search(r'data-deadline="\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00"[^>]*>13 days 23 hours<', body)


def test_the_contract_page_asks_the_policy_only_about_milestones_that_show_buttons(client, monkeypatch):
    """Finished milestones are table rows without buttons: the policy is asked about the others only (a long
    contract is mostly finished milestones). Their own page still offers what the policy allows (a bonus)."""
    from contracts import selectors
    from contracts.tests.factories import set_state

    contract = make_contract(count=3)
    released, refunded, open_one = contract.milestones.order_by("position")
    set_state(released, "released")
    set_state(refunded, "refunded")
    asked = []
    real = policy.milestone_buttons

    def spy(user, milestone, *args, **kwargs):
        asked.append(milestone.pk)
        return real(user, milestone, *args, **kwargs)

    monkeypatch.setattr(selectors.policy, "milestone_buttons", spy)
    client.force_login(contract.client)
    assert client.get(contract.get_absolute_url()).status_code == 200
    assert asked == [open_one.pk]
    asked.clear()
    assert client.get(reverse("contracts:milestone_detail", args=[contract.pk, released.pk])).status_code == 200
    assert asked == [released.pk]
