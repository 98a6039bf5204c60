from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.template import loader

from .middleware import MalformedInput

API_PREFIX = "/api/"


def rate_limited(request: HttpRequest, exception: Exception) -> HttpResponse:
    return render(request, "429.html", status=429)


def _error_page(template_name: str, status: int, context: dict | None = None) -> HttpResponse:
    # No request and so no context processors: the page renders while the database, the cache or
    # the session store is what failed (or the session cookie is what was refused). The language
    # is the one the locale middleware chose.
    return HttpResponse(loader.get_template(template_name).render(context or {}), status=status)


def _api_error(request: HttpRequest, code: str, message: str, status: int) -> HttpResponse | None:
    """Programs calling /api/ get the API's JSON envelope, never a page, whatever refused them."""
    if not request.path.startswith(API_PREFIX):
        return None
    from .api import error_body

    return JsonResponse(error_body(code, message), status=status)


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    """The 400 page; it says what was wrong when the shop itself refused the input."""
    reason = str(exception) if isinstance(exception, MalformedInput) else ""
    return _api_error(request, "MALFORMED_REQUEST", reason or "Bad request.", 400) or _error_page(
        "400.html", 400, {"reason": reason}
    )


def permission_denied(request: HttpRequest, exception: Exception) -> HttpResponse:
    return _error_page("403.html", 403)


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    return _api_error(request, "NOT_FOUND", "No such address in the API.", 404) or _error_page("404.html", 404)


def server_error(request: HttpRequest) -> HttpResponse:
    answer = _api_error(request, "SERVER_ERROR", "Something went wrong on our side; try again.", 500)
    return answer or _error_page("500.html", 500)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    return _error_page("403_csrf.html", 403)
