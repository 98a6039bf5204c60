from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.template import loader

from .middleware import MalformedInput


def rate_limited(request: HttpRequest, exception: Exception) -> HttpResponse:
    return render(request, "429.html", status=429)


def _error_page(template_name: str, status: int, context: dict | None = None) -> HttpResponse:
    # No request and so no context processors: the page reads nothing from the database, the cache
    # or the session (whose cookie may be what was refused). The language is the locale middleware's.
    return HttpResponse(loader.get_template(template_name).render(context or {}), status=status)


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    """The 400 page; it says what was wrong when the shop itself refused the input."""
    reason = str(exception) if isinstance(exception, MalformedInput) else ""
    return _error_page("400.html", 400, {"reason": reason})
