"""Two people share a thread: each sees the other's messages arrive without reloading, the unread
badge in the header appears and clears, files go through, notifications open and mark read."""

import hashlib
import re

import pytest
from playwright.sync_api import expect

from marketplace.tests.factories import FreelancerFactory, UserFactory
from messaging import services
from messaging.tests.factories import PDF_BYTES, post_messages
from tests.browser.conftest import PHONE
from tests.browser.helpers import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LIVE = 15_000  # ms: the thread polls every 3 s, the header badges every 10 s


@pytest.fixture(autouse=True)
def media_in_tmp(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def mark_page(page):
    """Set a flag that a reload would lose: proves an update arrived without one."""
    page.evaluate("window.__sameDocument = true")


def still_same_document(page) -> bool:
    return page.evaluate("window.__sameDocument === true")


def test_two_people_message_each_other_live(new_page, screenshot, password, tmp_path):
    clara = UserFactory(name="Clara Client", email="clara@example.com", timezone="Europe/Berlin")
    felix = FreelancerFactory(name="Felix Freelancer", email="felix@example.com", timezone="America/New_York")
    thread = services.thread_create(participants=[clara, felix], subject="Online shop", link_url="/dashboard/")
    services.event_post(thread=thread, text="Clara Client funded “Designs” ($300.00)", actor=clara)
    services.thread_set_notice(
        thread=thread,
        text="Delivering work through messages does not start the review period — use Submit work on the milestone.",
    )
    clara_page, felix_page = new_page(), new_page()
    log_in(clara_page, clara.email, password)
    log_in(felix_page, felix.email, password)
    felix_badge = felix_page.locator("#nav-unread-threads")
    expect(felix_badge).to_have_text(re.compile(r"1\s+unread conversation"))  # the funding event
    felix_page.get_by_role("link", name=re.compile("^Messages")).click()
    felix_page.get_by_role("link", name="Clara Client").click()
    expect(felix_page.get_by_text("funded “Designs” ($300.00)")).to_be_visible()
    expect(felix_badge).to_have_text("")  # opening the thread read it
    felix_page.goto("/dashboard/")
    mark_page(felix_page)

    # Clara writes, with a file; her message appears at once and the composer is cleared.
    clara_page.goto(thread.get_absolute_url())
    expect(clara_page.get_by_role("note")).to_contain_text("does not start the review period")
    mark_page(clara_page)
    brief = tmp_path / "Brief v2.pdf"
    brief.write_bytes(PDF_BYTES)
    clara_page.get_by_label("Message").fill("Hi Felix,\nthe brief is attached. See https://example.com/brand")
    clara_page.get_by_label("Attach files").set_input_files(str(brief))
    clara_page.get_by_role("button", name="Send").click()
    clara_list = clara_page.locator(f"#thread-{thread.pk}-messages")
    expect(clara_list).to_contain_text("the brief is attached")
    expect(clara_list.get_by_role("link", name="Brief v2.pdf")).to_be_visible()
    expect(clara_list).to_contain_text(hashlib.sha256(PDF_BYTES).hexdigest()[:12])
    expect(clara_list.get_by_role("link", name="https://example.com/brand")).to_be_visible()
    expect(clara_page.get_by_label("Message")).to_have_value("")
    assert still_same_document(clara_page)

    # Felix's header shows the unread conversation without a reload.
    expect(felix_badge).to_have_text(re.compile(r"1\s+unread conversation"), timeout=LIVE)
    assert still_same_document(felix_page)
    felix_page.get_by_role("link", name=re.compile("^Messages")).click()
    inbox = felix_page.locator("#inbox")
    expect(inbox).to_contain_text("Clara Client")
    expect(inbox.locator("[data-unread]")).to_have_text(re.compile(r"^1"))
    screenshot(felix_page, "inbox")

    # Opening the thread clears the badge; Felix answers and Clara sees it arrive live.
    felix_page.get_by_role("link", name="Clara Client").click()
    expect(felix_page.get_by_text("the brief is attached")).to_be_visible()
    expect(felix_badge).to_have_text("")
    mark_page(felix_page)
    felix_page.get_by_label("Message").fill("Thanks Clara! I will send the first designs on Friday.")
    felix_page.get_by_label("Message").press("Control+Enter")
    expect(felix_page.locator(f"#thread-{thread.pk}-messages")).to_contain_text("first designs on Friday")
    expect(clara_list).to_contain_text("first designs on Friday", timeout=LIVE)
    assert still_same_document(clara_page)
    screenshot(clara_page, "thread")

    # Clara writes back while Felix watches: it arrives in his open thread, which stays read.
    clara_page.get_by_label("Message").fill("Great, thank you!")
    clara_page.get_by_role("button", name="Send").click()
    expect(felix_page.locator(f"#thread-{thread.pk}-messages")).to_contain_text("Great, thank you!", timeout=LIVE)
    assert still_same_document(felix_page)
    expect(felix_badge).to_have_text("")

    # A refused file is explained in the composer; what was typed is kept.
    bad = tmp_path / "setup.exe"
    bad.write_bytes(b"MZ\x90\x00" + b"\x00" * 64)
    clara_page.get_by_label("Message").fill("One more thing")
    clara_page.get_by_label("Attach files").set_input_files(str(bad))
    clara_page.get_by_role("button", name="Send").click()
    expect(clara_page.get_by_role("alert")).to_have_text("“setup.exe”: this file type is not allowed.")
    expect(clara_page.get_by_label("Message")).to_have_value("One more thing")

    # On a phone the thread fits the screen.
    phone = new_page(PHONE)
    log_in(phone, felix.email, password)
    phone.goto(thread.get_absolute_url())
    expect(phone.get_by_text("Great, thank you!")).to_be_visible()
    assert phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    screenshot(phone, "thread-phone")


def test_notifications_bell_page_and_opening_one(new_page, screenshot, password):
    clara = UserFactory(name="Clara Client", email="clara@example.com", timezone="Europe/Berlin")
    services.notify(
        user=clara,
        kind="contract",
        text="Felix Freelancer accepted your offer “Online shop”",
        url="/dashboard/",
        email=False,
    )
    services.notify(user=clara, kind="reminder", text="3 days left to review “Designs”", url="/dashboard/", email=False)
    services.notify(user=clara, kind="contract", text="Felix Freelancer submitted work for “Designs”", email=False)
    page = new_page()
    log_in(page, clara.email, password)

    bell = page.locator("#nav-unread-notifications")
    expect(bell).to_have_text(re.compile(r"3\s+unread"))
    page.get_by_role("link", name=re.compile("^Notifications")).click()
    expect(page.get_by_role("heading", name="Notifications")).to_be_visible()
    screenshot(page, "notifications")

    page.get_by_role("link", name="3 days left to review “Designs”").click()
    expect(page.get_by_role("heading", name=re.compile("^Welcome, "))).to_be_visible()
    expect(bell).to_have_text(re.compile(r"2\s+unread"))

    page.goto("/notifications/")
    page.get_by_role("button", name="Mark all as read").click()
    expect(page.get_by_text("All notifications are marked as read.")).to_be_visible()
    expect(bell).to_have_text("")

    page.get_by_role("link", name="Email preferences").click()
    page.get_by_label("Review reminders").uncheck()
    page.get_by_role("button", name="Save preferences").click()
    expect(page.get_by_text("Your email preferences were saved.")).to_be_visible()
    expect(page.get_by_label("Review reminders")).not_to_be_checked()
    expect(page.get_by_label("New messages")).to_be_checked()


def test_loading_earlier_messages_keeps_the_page(new_page, password):
    clara = UserFactory(name="Clara Client", email="clara@example.com")
    felix = FreelancerFactory(name="Felix Freelancer", email="felix@example.com")
    thread = services.thread_create(participants=[clara, felix], subject="Long thread")
    post_messages(thread, felix, 55)
    page = new_page()
    log_in(page, clara.email, password)
    page.goto(thread.get_absolute_url())
    messages = page.locator(f"#thread-{thread.pk}-messages")
    expect(messages).to_contain_text("Message 55")
    expect(messages.get_by_text("Message 5", exact=True)).to_have_count(0)
    mark_page(page)

    page.get_by_role("link", name="Load earlier messages").click()

    expect(messages.get_by_text("Message 1", exact=True)).to_be_visible()
    expect(page.get_by_role("link", name="Load earlier messages")).to_have_count(0)
    assert messages.locator("[data-message-id]").count() == 55
    assert still_same_document(page)
