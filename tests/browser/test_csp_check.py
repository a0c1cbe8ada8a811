"""The browser fixtures catch a Content-Security-Policy violation (so a clean run means something)."""

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_inline_script_is_blocked_and_reported(browser, live_server):
    from tests.browser.conftest import REPORT_CSP_VIOLATIONS, is_csp_violation

    context = browser.new_context(base_url=live_server.url)
    context.add_init_script(REPORT_CSP_VIOLATIONS)
    page = context.new_page()
    seen = []
    page.on("console", lambda message: seen.append(message.text) if is_csp_violation(message.text) else None)
    page.goto("/")
    page.evaluate(
        """() => { const s = document.createElement("script"); s.textContent = "window.ran = true";
                   document.body.appendChild(s); }"""
    )
    page.wait_for_timeout(200)

    assert page.evaluate("window.ran === undefined")  # the injected inline script did not run
    assert any("script-src" in text for text in seen), seen
    context.close()
