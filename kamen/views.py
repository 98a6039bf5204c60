from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.template import loader


def rate_limited(request: HttpRequest, exception: Exception) -> HttpResponse:
    return render(request, "429.html", status=429)


def _error_page(template_name: str, status: int) -> HttpResponse:
    # No request and so no context processors: the page renders while the database, the cache or
    # the session store is what failed. The language is the one the locale middleware chose.
    return HttpResponse(loader.get_template(template_name).render({}), status=status)


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    return _error_page("400.html", 400)


def permission_denied(request: HttpRequest, exception: Exception) -> HttpResponse:
    return _error_page("403.html", 403)


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    return _error_page("404.html", 404)


def server_error(request: HttpRequest) -> HttpResponse:
    return _error_page("500.html", 500)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    return _error_page("403_csrf.html", 403)
