"""Checks every browser test gets for free: axe-core on each page a test leaves, and the HTML of each page the
browser fetched, kept for the W3C Nu HTML checker (test_html_valid.py runs it once over all of them)."""

import hashlib
import json
import os
import re
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import axe_playwright_python

ROOT = Path(__file__).resolve().parents[2]
VNU_JAR = ROOT / "node_modules" / "vnu-jar" / "build" / "dist" / "vnu.jar"

# axe-core's impacts that fail a test; "moderate" and "minor" findings are best practices left to review.
FAILING_IMPACTS = ("critical", "serious")
AXE_SCRIPT = (Path(axe_playwright_python.__file__).parent / "axe.min.js").read_text()
# Runs in every document, before the page's own scripts (init scripts are not subject to the CSP): once the main
# frame has loaded, axe-core checks it, unless this browser context already checked this URL at this width. It
# reports on the console: while a navigation away waits for the report, Playwright can neither evaluate in the
# page nor answer its bindings, but console messages still arrive.
AXE_RUNNER = """
(() => {
  if (window.top !== window || !/^https?:$/.test(location.protocol)) return;
  const key = location.href + " " + window.innerWidth;
  const checked = JSON.parse(localStorage.getItem("axe-checked") || "[]");
  if (checked.includes(key)) return;
  localStorage.setItem("axe-checked", JSON.stringify(checked.concat([key])));
  const report = (kind, payload) => console.debug("PREFIX" + JSON.stringify(
    {kind: kind, url: location.href, width: window.innerWidth, payload: payload}));
  report("open", null);
  // When the document is complete: that is just before "load", or, when a navigation away starts before then (a
  // click as soon as the element shows), when the navigation aborts the rest of the loading, which fires no "load".
  // preload: false: axe-core would fetch the stylesheets again, resolving their @imports against the page's URL.
  document.addEventListener("readystatechange", () => document.readyState === "complete" && axe.run(
    document, {resultTypes: ["violations"], preload: false}).then(
    (results) => report("done", results.violations
      .filter((v) => FAILING_IMPACTS.includes(v.impact))
      .map((v) => ({id: v.id, impact: v.impact, help: v.help, count: v.nodes.length,
                    targets: v.nodes.slice(0, 5).map((n) => n.target.join(" "))}))),
    (error) => report("error", String(error))));
})();
"""
REPORT_PREFIX = "axe-check: "
AXE_RUNNER = AXE_RUNNER.replace("FAILING_IMPACTS", json.dumps(FAILING_IMPACTS)).replace("PREFIX", REPORT_PREFIX)
# Longest a navigation waits for axe-core to finish on the page it leaves.
AXE_WAIT_MS = 20_000


@dataclass
class AxeChecker:
    """axe-core on each page of one test, once per distinct URL and viewport width in each browser context: a
    page runs it when it has loaded, and a navigation away from it waits until it has reported."""

    checked: set = field(default_factory=set)
    pending: dict = field(default_factory=dict)
    started: dict = field(default_factory=dict)
    seconds: list = field(default_factory=list)  # from a document's start to axe-core's report, per page
    violations: list = field(default_factory=list)
    not_checked: list = field(default_factory=list)

    def on_console(self, message) -> None:
        if not message.text.startswith(REPORT_PREFIX):
            return
        report = json.loads(message.text[len(REPORT_PREFIX) :])
        page, url, width = message.page, report["url"], report["width"]
        if report["kind"] == "open":
            if page in self.pending:  # the page left a document before axe-core reported on it
                self.not_checked.append("{} at width {}: left before axe-core reported".format(*self.pending[page]))
            self.checked.add((url, width))
            self.pending[page] = (url, width)
            self.started[page] = time.monotonic()
            return
        self.pending.pop(page, None)
        if page in self.started:
            self.seconds.append(time.monotonic() - self.started.pop(page))
        if report["kind"] == "error":
            self.not_checked.append(f"{url} at width {width}: {report['payload']}")
            return
        for violation in report["payload"]:
            more = violation["count"] - len(violation["targets"])
            self.violations.append(
                f"{violation['impact']}: {violation['id']} ({violation['help']}) on {url} at width {width}: "
                + ", ".join(violation["targets"])
                + (f" and {more} more" if more > 0 else "")
            )

    def wait(self, page) -> None:
        """Until axe-core has reported on the page's document (if it runs on it)."""
        waited = 0
        while page in self.pending and waited < AXE_WAIT_MS and not page.is_closed():
            page.wait_for_timeout(25)
            waited += 25
        if page in self.pending:
            url, width = self.pending.pop(page)
            self.not_checked.append(f"{url} at width {width}: axe-core did not report within {AXE_WAIT_MS} ms")

    def attach(self, context) -> None:
        context.add_init_script(AXE_SCRIPT + AXE_RUNNER)
        context.on("console", self.on_console)

        def before_navigation(route):
            request = route.request
            if request.is_navigation_request() and request.frame.parent_frame is None:
                self.wait(request.frame.page)
            route.fallback()

        context.route("**/*", before_navigation)


@dataclass
class Page:
    url: str
    test: str
    body: bytes


VARYING = re.compile(rb'nonce="[^"]*"|[A-Za-z0-9]{64}')


class PageCollector:
    """A WSGI wrapper around the live server's application that keeps the HTML of every document the browser
    navigated to (Sec-Fetch-Dest: document or iframe; never htmx fragments, which are parts of a page)."""

    def __init__(self, app):
        self.app = app
        self.pages: list[Page] = []
        self.seen: set[str] = set()

    def __call__(self, environ, start_response):
        if environ.get("HTTP_SEC_FETCH_DEST") not in ("document", "iframe"):
            return self.app(environ, start_response)
        sent = {}

        def remember(status, headers, exc_info=None):
            sent["status"] = int(status.split()[0])
            sent["type"] = next((value for name, value in headers if name.lower() == "content-type"), "")
            return start_response(status, headers, exc_info)

        response = self.app(environ, remember)
        if not sent.get("type", "").startswith("text/html") or 300 <= sent["status"] < 400:  # redirects show nothing
            return response
        try:
            body = b"".join(response)
        finally:
            if hasattr(response, "close"):
                response.close()
        if not body:
            return [body]
        # The same page with a different CSRF token or nonce is the same page: keep one copy.
        digest = hashlib.sha256(VARYING.sub(b"", body)).hexdigest()
        if digest not in self.seen:
            self.seen.add(digest)
            query = environ.get("QUERY_STRING")
            url = environ.get("PATH_INFO", "") + (f"?{query}" if query else "")
            test = os.environ.get("PYTEST_CURRENT_TEST", "").split(" ")[0]
            self.pages.append(Page(url=url, test=test, body=body))
        return [body]


VNU_TOTALS = {"pages": 0, "errors": 0}  # the last run's, for the summary at the end of the tests


def vnu_command() -> list[str]:
    java = shutil.which("java")
    problems = []
    if not java:
        problems.append("no Java runtime (apt-get install default-jre-headless)")
    if not VNU_JAR.exists():
        problems.append(f"no {VNU_JAR.relative_to(ROOT)} (npm ci --ignore-scripts)")
    if problems:
        raise RuntimeError("The Nu HTML checker cannot run: " + "; ".join(problems) + ". `.ci/run` installs both.")
    return [java, "-Xss4m", "-jar", str(VNU_JAR)]


def vnu_errors(pages: list[Page], folder: Path) -> list[str]:
    """Validate the pages with the Nu HTML checker in one run; return its errors, one readable line each."""
    names = {}
    for number, page in enumerate(pages):
        path = folder / f"page-{number:04d}.html"
        path.write_bytes(page.body)
        names[path.name] = page
    files = sorted(str(path) for path in folder.iterdir())
    completed = subprocess.run(
        [*vnu_command(), "--errors-only", "--format", "json", "--exit-zero-always", *files],
        capture_output=True,
        text=True,
        timeout=600,
    )
    report = json.loads(completed.stderr or completed.stdout)
    errors = []
    for message in report["messages"]:
        page = names.get(message.get("url", "").rsplit("/", 1)[-1])
        where = f"{page.url} (from {page.test})" if page else message.get("url", "?")
        line = message.get("lastLine", "?")
        extract = " ".join(message.get("extract", "").split())[:120]
        errors.append(f"{where} line {line}: {message['message']} [{extract}]")
    return errors
