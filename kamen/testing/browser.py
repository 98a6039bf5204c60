"""Chromium through Playwright for browser tests: `browser` (launched once per test) and `ARTIFACTS`.

Debian's Chromium is used as installed (`apt-get install chromium`); Playwright never downloads one.
Screenshots go to test-artifacts/ for a human to look at.
"""

import os
from pathlib import Path

import pytest
from django.db import connections

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@pytest.fixture
def browser(monkeypatch):
    if not os.path.exists(CHROMIUM):
        pytest.skip("Chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; the live server's ORM work is in its own.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"],
        )
        yield browser
        browser.close()
        # Connections the test opened while the loop ran belong to its context, which the test
        # database teardown never sees: closed here, or PostgreSQL refuses to drop the database.
        connections.close_all()
