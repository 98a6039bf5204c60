"""The admin's Content-Security-Policy: the shop's own, loosened for the admin theme and nowhere else.

django-unfold builds its pages with Alpine.js, whose standard build evaluates the expressions in
`x-data` / `@click` attributes with `new Function` (CSP's 'unsafe-eval'), and sets a few style
attributes in its templates ('unsafe-inline' styles). Shop pages keep the strict policy: buyers' pages
show text that buyers and suppliers wrote. Admin pages are open only to staff who signed in with a
second factor, every template auto-escapes, and scripts still load from this site only — no inline
script, no other origin — so an injected string stays text and never becomes an Alpine attribute.
"""

from functools import cache

from django.http import HttpRequest
from django.urls import reverse

ADMIN_THEME_ALLOWANCES = {"script-src": ["'unsafe-eval'"], "style-src": ["'unsafe-inline'"]}


class AdminThemePolicyMiddleware:
    """Placed after csp.middleware.CSPMiddleware, so its response pass runs first and adds the allowances."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest):
        response = self.get_response(request)
        if request.path.startswith(_admin_prefix()):
            response._csp_update = {**ADMIN_THEME_ALLOWANCES, **(getattr(response, "_csp_update", None) or {})}
        return response


@cache
def _admin_prefix() -> str:
    return reverse("admin:index")
