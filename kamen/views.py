from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from .middleware import MalformedInput


def rate_limited(request: HttpRequest, exception: Exception) -> HttpResponse:
    return render(request, "429.html", status=429)


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    """The 400 page; it says what was wrong when the shop itself refused the input."""
    reason = str(exception) if isinstance(exception, MalformedInput) else ""
    return render(request, "400.html", {"reason": reason}, status=400)
