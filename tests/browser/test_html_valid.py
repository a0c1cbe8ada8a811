"""The HTML of every page the browser tests visited is valid (the W3C Nu HTML checker, vnu.jar on a Java runtime).

The pages are collected by the `visited_pages` fixture while the other browser tests run; this test runs after
all of them (tests/browser/conftest.py puts it last) and validates them in one run of the checker."""

import pytest

from .checks import VNU_TOTALS, vnu_errors

pytestmark = pytest.mark.browser


def test_every_page_the_browser_tests_visited_is_valid_html(visited_pages, tmp_path):
    assert visited_pages.pages, "No page was collected: run this test with the other browser tests (pytest -m browser)"
    errors = vnu_errors(visited_pages.pages, tmp_path)
    VNU_TOTALS.update(pages=len(visited_pages.pages), errors=len(errors))
    assert errors == [], f"{len(errors)} HTML errors in {len(visited_pages.pages)} pages:\n" + "\n".join(errors)
