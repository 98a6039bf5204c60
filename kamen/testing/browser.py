"""Chromium through Playwright for browser tests: `browser` (one Chromium per process, fresh pages per
test), `ARTIFACTS`, and the user agents of a PC and a phone browser.

Debian's Chromium is used as installed (`apt-get install chromium`); Playwright never downloads one.
Screenshots go to test-artifacts/ for a human to look at.
"""

import os
from pathlib import Path

import pytest
from django.db import connections

CHROMIUM = "/usr/bin/chromium"
PC_UA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36"
IPHONE_UA = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.0 Mobile/15E148 Safari/604.1"
)
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@pytest.fixture(scope="session")
def _chromium(django_db_setup):
    """One Chromium per test process: starting one costs about a second of CPU.

    Playwright's sync API keeps an event loop running in this thread from here on, so Django's guard
    against ORM calls from async code is lifted for the rest of the process; nothing in kamen is async.
    Depending on django_db_setup makes this close before the test database is dropped.
    """
    if not os.path.exists(CHROMIUM):
        pytest.skip("Chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"],
        )
        yield browser
        browser.close()


@pytest.fixture
def browser(_chromium):
    """The process's Chromium; every page and context a test opened is closed after it, so nothing
    of one test (cookies, a page still polling its order) reaches the next."""
    yield _chromium
    for context in _chromium.contexts:
        context.close()
    # Connections opened while the loop ran belong to its context, which the test database
    # teardown never sees: closed here, or PostgreSQL refuses to drop the database.
    connections.close_all()


# Chromium reports each refusal on the console; the DOM event adds the directive and the source line.
_REPORT_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (event) => console.error(
  `Content Security Policy violation: ${event.violatedDirective} blocked ${event.blockedURI || "inline"} ` +
  `at ${event.sourceFile}:${event.lineNumber}`));
"""


def record_csp_violations(page) -> list[str]:
    """Start collecting the Content-Security-Policy violations Chromium reports on `page`; returns the list.

    Call it before the first navigation. An empty list at the end means the page ran as the shop's
    policy allows: no refused script, style, image, font, fetch or form target.
    """
    violations: list[str] = []
    page.on("console", lambda message: "Content Security Policy" in message.text and violations.append(message.text))
    page.add_init_script(_REPORT_VIOLATIONS)
    return violations
