"""Every page a person can reach from their dashboard, with the demo's data (a milestone in every state, offers,
jobs, feedback, messages): the shared fixtures run axe-core on each page and keep its HTML for the Nu checker, so
pages no story test walks through are checked too."""

import re
from urllib.parse import urldefrag, urlsplit

import pytest

from marketplace.demo import DEMO_PASSWORD, seed_demo

from .conftest import PHONE
from .helpers import log_in, staff_log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Not pages: files, exports, the sandbox provider's site, leaving, and (for members) the staff admin.
SKIP = re.compile(
    r"/accounts/logout/|/download|/attachments?/|/files?/|\.csv|\.zip|/export|/evidence|/sandbox-pay/|/poll/|/badges/"
)
MAX_PAGES = 60


def crawl(page, start: str, *, allow: re.Pattern | None = None, limit: int = MAX_PAGES) -> list[str]:
    """Visit the pages linked from `start`, breadth first, on this site only; return the paths visited."""
    origin = urlsplit(page.url).netloc  # the page is on the site already
    queue, seen, visited = [start], {start}, []
    while queue and len(visited) < limit:
        path = queue.pop(0)
        response = page.goto(path)
        assert response is not None and response.status < 500, f"{path} answered {response and response.status}"
        visited.append(path)
        for href in page.eval_on_selector_all("a[href]", "links => links.map((a) => a.href)"):
            url = urlsplit(urldefrag(href)[0])
            if url.scheme not in ("http", "https") or url.netloc != origin:
                continue
            target = url.path + (f"?{url.query}" if url.query else "")
            if target in seen or SKIP.search(target) or (allow and not allow.search(target)):
                continue
            seen.add(target)
            queue.append(target)
    return visited


@pytest.fixture
def demo():
    seed_demo()


MEMBER_PAGES = re.compile(r"^/(?!admin/)")


@pytest.mark.parametrize(
    "email, viewport",
    [("client@demo.test", None), ("freelancer@demo.test", None), ("client@demo.test", PHONE)],
    ids=["client", "freelancer", "client-phone"],
)
def test_a_member_reaches_only_valid_accessible_pages(new_page, demo, email, viewport):
    page = new_page(viewport) if viewport else new_page()
    log_in(page, email, DEMO_PASSWORD)
    visited = crawl(page, "/dashboard/", allow=MEMBER_PAGES)
    assert len(visited) >= 20, visited


def test_a_visitor_reaches_only_valid_accessible_pages(new_page, demo):
    page = new_page()
    page.goto("/")
    visited = crawl(page, "/")
    assert len(visited) >= 5, visited


def test_staff_admin_pages_are_valid_and_accessible(new_page, demo):
    from marketplace.models import User

    page = new_page()
    staff_log_in(page, User.objects.get(email="admin@demo.test"), DEMO_PASSWORD)
    visited = crawl(page, "/admin/", allow=re.compile(r"^/admin/(?!logout|password_change)[^?]*$"), limit=40)
    assert len(visited) >= 10, visited
