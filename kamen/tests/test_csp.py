"""Every response carries a strict Content-Security-Policy, and no template needs it loosened.

The browser side (Chromium reporting no violation on the shop, the payment page and the admin) is in
test_browser_csp.py; here: the header itself, and the templates kept free of what it refuses.
"""

import re
from pathlib import Path

import pytest
from django.urls import reverse

ROOT = Path(__file__).resolve().parents[2]


def policy(response) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    return {name: values for name, *values in (part.split() for part in header.split(";") if part.strip())}


@pytest.mark.parametrize("url", ["/", "/orders/lookup/", "/accounts/login/", "/no-such-page/"])
def test_shop_pages_carry_a_strict_policy(client, db, url):
    directives = policy(client.get(url))

    assert directives["default-src"] == ["'self'"]
    assert directives["script-src"] == ["'self'"] and directives["style-src"] == ["'self'"]
    assert directives["img-src"] == ["'self'", "data:"]  # the payment page's QR code is a data: URI
    assert directives["frame-ancestors"] == ["'none'"] and directives["object-src"] == ["'none'"]
    assert directives["form-action"][0] == "'self'"
    assert not any("unsafe" in value for values in directives.values() for value in values)


def test_the_admin_loosens_only_what_its_theme_needs(client, staff):
    """Alpine.js evaluates attribute expressions and the theme sets a few style attributes; nothing else
    changes: scripts still come from this site only, never inline, and no other origin is allowed."""
    client.force_login(staff)

    admin_policy = policy(client.get(reverse("admin:index")))
    shop_policy = policy(client.get("/"))

    assert admin_policy["script-src"] == ["'self'", "'unsafe-eval'"]
    assert admin_policy["style-src"] == ["'self'", "'unsafe-inline'"]
    rest = {name: values for name, values in admin_policy.items() if name not in ("script-src", "style-src")}
    assert rest == {name: values for name, values in shop_policy.items() if name not in ("script-src", "style-src")}


def test_no_template_holds_an_inline_script_style_or_event_handler():
    offending = []
    for template in sorted((ROOT / "templates").rglob("*.html")):
        html = template.read_text()
        for pattern in (r"\sstyle=", r"<style", r"<script(?![^>]*\ssrc=)[^>]*>", r"\son[a-z]+=", r"javascript:"):
            offending += [f"{template.relative_to(ROOT)}: {match}" for match in re.findall(pattern, html)]

    assert offending == []
