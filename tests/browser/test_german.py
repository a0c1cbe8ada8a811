"""A client and a freelancer who read the site in German walk the whole way in German: an offer, funding it on the
sandbox provider's page, submitting work and approving it — with German labels and buttons, and amounts and dates
the way German writes them ("1.234,50 $", "10. Dez. 2026")."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone, translation
from playwright.sync_api import expect

from contracts.models import Contract
from escrow.tests.helpers import assert_ledger_consistent
from marketplace.formats import format_date
from marketplace.services import profile_update
from marketplace.tests.factories import FreelancerFactory, UserFactory
from tests.browser.conftest import PHONE

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

NBSP = "\xa0"
AMOUNT = f"1.234,50{NBSP}$"
RECEIVES = f"1.111,05{NBSP}$"  # after the 10 % platform fee of 123,45 $


def anmelden(page, email: str, password: str) -> None:
    """Log in from a browser that asks for German (Accept-Language); once in, the account's language decides."""
    page.goto("/accounts/login/")
    expect(page.locator("html")).to_have_attribute("lang", "de")
    form = page.locator("main form")
    form.locator("input[name=login]").fill(email)
    form.locator("input[name=password]").fill(password)
    form.locator("button[type=submit]").click()
    expect(page.get_by_role("heading", name=re.compile(r"^Willkommen, "))).to_be_visible()


def test_offer_fund_submit_approve_in_german(new_page, screenshot, password):
    client = UserFactory(name="Clara Client", email="clara@example.com", language="de", timezone="Europe/Berlin")
    freelancer = FreelancerFactory(
        name="Felix Freelancer", email="felix@example.com", language="de", timezone="Europe/Berlin"
    )
    client_page, freelancer_page = new_page(locale="de-DE"), new_page(locale="de-DE")
    due = timezone.localdate() + timedelta(days=21)

    # The offer, written in German, with the total and fee in German format as it is typed.
    anmelden(client_page, client.email, password)
    client_page.goto(f"/offers/new/?freelancer={freelancer.pk}")
    client_page.get_by_label("Titel", exact=False).first.fill("Onlineshop")
    client_page.get_by_label("Leistungsumfang").fill("Ein kleiner Onlineshop mit Warenkorb und Kasse.")
    client_page.get_by_label("Woran Erfolg gemessen wird").fill("Kundinnen können Produkte kaufen.")
    row = client_page.locator("[data-row]").first
    row.get_by_label("Titel").fill("Shop")
    row.get_by_label("Ergebnis").fill("Der Shop, online")
    row.get_by_label("Voraussichtlicher Liefertermin").fill(due.isoformat())
    row.get_by_label("Betrag").fill("1234.50")
    expect(client_page.locator("#offer-total")).to_have_text(AMOUNT)
    expect(client_page.locator("#offer-fee")).to_have_text(f"123,45{NBSP}$")
    client_page.get_by_role("button", name="Angebot senden").click()
    expect(client_page.get_by_text("Ihr Angebot wurde an Felix Freelancer gesendet.")).to_be_visible()

    # The freelancer accepts it.
    anmelden(freelancer_page, freelancer.email, password)
    freelancer_page.get_by_role("link", name="Antworten").click()
    expect(freelancer_page.get_by_role("heading", name="Onlineshop")).to_be_visible()
    with translation.override("de"), timezone.override(freelancer.timezone):
        expect(freelancer_page.locator("main")).to_contain_text(format_date(due))  # "17. Dez. 2026"
    expect(freelancer_page.locator("main")).to_contain_text(AMOUNT)
    screenshot(freelancer_page, "de-offer")
    freelancer_page.get_by_role("button", name=re.compile(r"^Fassung 1 annehmen")).click()
    expect(freelancer_page.get_by_text("Angebot angenommen.")).to_be_visible()
    contract = Contract.objects.get()

    # The client funds it on the sandbox provider's page, in German too.
    client_page.goto(contract.get_absolute_url())
    client_page.get_by_role("link", name="Meilenstein finanzieren").click()
    client_page.get_by_role("button", name="Weiter zur Zahlung").click()
    expect(client_page).to_have_url(re.compile(r"/sandbox-pay/checkout/"))
    expect(client_page.get_by_role("heading", name=f"{AMOUNT} bezahlen")).to_be_visible()
    client_page.get_by_label("Kartennummer").fill("4242 4242 4242 4242")
    client_page.get_by_label("Ablaufdatum (MM/JJ)").fill("12/30")
    client_page.get_by_label("Prüfnummer (CVC)").fill("123")
    screenshot(client_page, "de-sandbox-checkout")
    client_page.get_by_role("button", name=f"{AMOUNT} bezahlen").click()
    expect(client_page.get_by_text(f"Zahlung bestätigt: {AMOUNT}")).to_be_visible()

    # The freelancer submits the work.
    freelancer_page.goto(contract.get_absolute_url())
    freelancer_page.get_by_role("link", name="Arbeit einreichen").click()
    freelancer_page.get_by_label("Was Sie liefern").fill("Der Shop ist online.")
    freelancer_page.get_by_role("button", name="Zur Prüfung einreichen").click()
    expect(freelancer_page.get_by_text("Einreichung 1 gesendet.")).to_be_visible()

    # The client sees the automatic-approval date in German, and approves.
    client_page.goto(contract.get_absolute_url())
    deadline = contract.milestones.get().submissions.get().review_deadline
    with translation.override("de"), timezone.override(client.timezone):
        expect(client_page.locator("main")).to_contain_text(format_date(deadline))
    screenshot(client_page, "de-contract-under-review")
    client_page.get_by_role("link", name="Arbeit genehmigen").click()
    client_page.get_by_role("button", name=f"Genehmigen und {AMOUNT} freigeben").click()
    expect(client_page.get_by_text(f"{RECEIVES} wurden an Felix Freelancer freigegeben")).to_be_visible()
    screenshot(client_page, "de-approved")

    freelancer_page.get_by_role("link", name="Wallet").click()
    expect(freelancer_page.locator("main")).to_contain_text(RECEIVES)
    assert_ledger_consistent()


def test_a_visitor_switches_to_german_with_the_language_menu(new_page, screenshot):
    felix = FreelancerFactory(name="Felix Freelancer", language="de")
    profile_update(user=felix, headline="Onlineshops mit Django", bio="", location="", skills=["django"])
    page = new_page(PHONE)
    page.goto("/freelancers/")
    expect(page.get_by_role("heading", name="Find freelancers")).to_be_visible()
    page.get_by_role("button", name="Toggle navigation").click()
    page.get_by_role("button", name=re.compile(r"^Language")).click()
    page.get_by_role("button", name="Deutsch").click()
    expect(page.get_by_role("heading", name="Freelancer finden")).to_be_visible()
    expect(page.locator("html")).to_have_attribute("lang", "de")
    expect(page.locator("main")).to_contain_text("Noch keine Bewertungen")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    page.get_by_role("button", name="Navigation ein-/ausblenden").click()
    page.get_by_role("button", name=re.compile(r"^Sprache")).click()
    screenshot(page, "de-language-menu-phone")
    page.get_by_role("button", name="English").click()
    expect(page.get_by_role("heading", name="Find freelancers")).to_be_visible()
