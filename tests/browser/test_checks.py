"""The checks every browser test gets: they catch what they are there to catch."""

import pytest

from .checks import AxeChecker, Page, vnu_errors

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

INACCESSIBLE = """<!doctype html><html lang="en"><head><title>Faint</title></head>
<body><main><h1>Faint</h1><p style="color:#bbb;background:#fff">Hardly readable</p>
<img src="/favicon.ico"></main></body></html>"""


def test_axe_reports_a_pages_serious_violations_once_the_browser_leaves_it(browser, live_server):
    checker = AxeChecker()
    context = browser.new_context(base_url=live_server.url)
    try:
        # Routes added later are asked first: the checker's, then this one.
        context.route("**/faint/", lambda route: route.fulfill(content_type="text/html", body=INACCESSIBLE))
        checker.attach(context)
        page = context.new_page()
        page.goto("/faint/")
        page.goto("/faint/")  # the same URL again is not checked again
        page.goto("/")  # leaving it waits for its report
        checker.wait(page)
    finally:
        context.close()
    assert checker.not_checked == []
    rules = sorted(line.split(" (")[0] for line in checker.violations)
    assert rules == ["critical: image-alt", "serious: color-contrast"]
    assert all(f"{live_server.url}/faint/ at width 1280" in line for line in checker.violations)
    assert (f"{live_server.url}/", 1280) in checker.checked


def test_the_nu_checker_reports_invalid_html_with_the_pages_url(tmp_path):
    invalid = b"""<!doctype html><html lang="en"><head><title>Times</title></head><body>
    <input autofocus aria-label="a"><input autofocus aria-label="b">
    <time datetime="2026-03-01T12:30:15.123456+01:00">1 March</time></body></html>"""
    valid = b"""<!doctype html><html lang="en"><head><title>Fine</title></head><body>
    <time datetime="2026-03-01T12:30:15+01:00">1 March</time></body></html>"""
    errors = vnu_errors([Page("/bad/", "test_x", invalid), Page("/good/", "test_y", valid)], tmp_path)
    assert len(errors) == 2, errors
    assert all(error.startswith("/bad/ (from test_x) line ") for error in errors)
    assert any("autofocus" in error for error in errors)
    assert any("datetime" in error for error in errors)


STILL_LOADING = """<!doctype html><html lang="en"><head><title>Loading</title></head>
<body><main><h1>Loading</h1><p style="color:#bbb;background:#fff">Hardly readable</p>
<img src="/never.png" alt="A picture that never arrives"><a href="/">Leave</a></main></body></html>"""


def test_axe_checks_a_page_left_before_it_finished_loading(browser, live_server):
    """A click as soon as the link shows starts a navigation that aborts the rest of the page's loading: the page
    never fires "load", and axe-core still checks it (CI once waited 20 s for a report that never came)."""
    checker = AxeChecker()
    held = []
    context = browser.new_context(base_url=live_server.url)
    try:
        context.route("**/never.png", lambda route: held.append(route))  # never answered: the page stays loading
        context.route("**/loading/", lambda route: route.fulfill(content_type="text/html", body=STILL_LOADING))
        checker.attach(context)
        page = context.new_page()
        page.goto("/loading/", wait_until="domcontentloaded")
        assert page.evaluate("document.readyState") == "interactive"
        page.get_by_role("link", name="Leave").click()
        page.wait_for_url(f"{live_server.url}/")
        checker.wait(page)
    finally:
        context.close()
    assert held, "the picture was requested and held"
    assert checker.not_checked == []
    assert [line.split(" (")[0] for line in checker.violations] == ["serious: color-contrast"]
    assert f"{live_server.url}/loading/ at width 1280" in checker.violations[0]
