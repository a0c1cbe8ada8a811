"""Browser tests: Playwright for Python driving Debian's chromium (never `playwright install`)."""

import os
import shutil
from pathlib import Path

import pytest
from playwright.sync_api import expect, sync_playwright

from .checks import AXE_WAIT_MS, VNU_TOTALS, AxeChecker, PageCollector

# Playwright's sync API runs an event loop in this thread; the ORM calls the tests make
# between browser steps are ordinary synchronous calls, so Django's async guard is lifted.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

SCREENSHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
# Assertions wait longer than Playwright's 5 s: a navigation away waits for axe-core to finish on the page it
# leaves, which takes seconds on a busy machine.
expect.set_options(timeout=AXE_WAIT_MS + 10_000)
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}


def chromium_path() -> str:
    path = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium")
    if not path:
        pytest.fail("Debian's chromium is not installed (apt-get install chromium); .ci/run installs it.")
    return path


@pytest.fixture(scope="session")
def browser():
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


# Every page reports Content-Security-Policy violations to the console (Chromium logs its own too).
REPORT_CSP_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", function (event) {
  console.error("CSP violation: " + event.violatedDirective + " blocked " + (event.blockedURI || "inline code"));
});
"""


def is_csp_violation(text: str) -> bool:
    return text.startswith("CSP violation") or "Content Security Policy" in text


@pytest.fixture
def csp_violations():
    """What the pages of this test logged as CSP violations; `new_page` fails the test if any."""
    return []


@pytest.fixture(scope="session")
def visited_pages(live_server):
    """The HTML of every page the browser tests navigated to, as the live server sent it (test_html_valid.py
    validates them all)."""
    httpd = live_server.thread.httpd
    collector = PageCollector(httpd.get_app())
    httpd.set_app(collector)
    return collector


AXE_TOTALS = {"pages": 0, "violations": 0, "seconds": 0.0}


@pytest.fixture
def axe():
    """axe-core on every page of the test; `new_page` fails the test on any critical or serious violation."""
    checker = AxeChecker()
    yield checker
    AXE_TOTALS["pages"] += len(checker.seconds)
    AXE_TOTALS["violations"] += len(checker.violations)
    AXE_TOTALS["seconds"] += sum(checker.seconds)


def pytest_terminal_summary(terminalreporter):
    if AXE_TOTALS["pages"]:
        terminalreporter.write_line(
            "axe-core checked {pages} pages ({seconds:.0f} s from page start to report), "
            "{violations} critical/serious violations".format(**AXE_TOTALS)
        )
    if VNU_TOTALS["pages"]:
        terminalreporter.write_line("Nu HTML checker validated {pages} pages: {errors} errors".format(**VNU_TOTALS))


@pytest.fixture
def new_page(browser, live_server, csp_violations, axe, visited_pages):
    """Open pages in fresh browser contexts (one per person); all are closed after the test, which fails if any
    page broke the Content-Security-Policy or has a critical or serious accessibility violation (axe-core runs on
    each page once it has loaded; a navigation away, and the end of the test, wait for its report)."""
    contexts = []

    def make(viewport=DESKTOP, locale="en-US"):
        context = browser.new_context(
            viewport=viewport, base_url=live_server.url, timezone_id="Europe/Paris", locale=locale
        )
        # A click that navigates waits for the navigation, and a navigation away waits for axe-core to finish on
        # the page it leaves (seconds on a busy machine, at most AXE_WAIT_MS): actions wait longer than that.
        context.set_default_timeout(AXE_WAIT_MS + 10_000)
        context.set_default_navigation_timeout(AXE_WAIT_MS + 20_000)
        context.add_init_script(REPORT_CSP_VIOLATIONS)
        axe.attach(context)
        contexts.append(context)
        page = context.new_page()
        page.on(
            "console",
            lambda message: (
                csp_violations.append(f"{page.url}: {message.text}") if is_csp_violation(message.text) else None
            ),
        )
        return page

    yield make
    for context in contexts:
        for open_page in context.pages:
            axe.wait(open_page)
        context.close()
    assert csp_violations == [], "Content-Security-Policy violations in the browser console"
    assert axe.violations == [], "axe-core: critical or serious accessibility violations:\n" + "\n".join(axe.violations)
    assert axe.not_checked == [], "Pages axe-core could not check"


@pytest.fixture
def page(new_page):
    return new_page()


@pytest.fixture
def screenshot():
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def take(page, name: str):
        path = SCREENSHOTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take


def pytest_collection_modifyitems(config, items):
    """The HTML validation runs last: it checks the pages every other browser test visited."""
    name = "test_every_page_the_browser_tests_visited_is_valid_html"
    last = [item for item in items if getattr(item, "originalname", None) == name]
    items[:] = [item for item in items if item not in last] + last
