"""What every /api/v1/ endpoint shares: errors as JSON with stable codes, and the page shape.

Every refusal answers {"error": {"code": "...", "message": "...", "fields": {...}}}; programs branch
on `code`, people read `message`, and `fields` holds validation errors by field name.
"""

import logging

from django.core.exceptions import PermissionDenied
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response
from rest_framework.views import exception_handler

logger = logging.getLogger("kamen.api")


class ApiProblem(exceptions.APIException):
    """A refusal with one of the API's stable codes."""

    def __init__(self, code: str, message: str, *, status_code: int = status.HTTP_400_BAD_REQUEST) -> None:
        super().__init__(detail=message, code=code)
        self.status_code = status_code
        self.error_code = code


# DRF's own exceptions, by the stable code each answers with.
CODES = [
    (exceptions.NotAuthenticated, "INVALID_SIGNATURE"),
    (exceptions.AuthenticationFailed, "INVALID_SIGNATURE"),
    (exceptions.Throttled, "RATE_LIMITED"),
    (exceptions.ValidationError, "VALIDATION_ERROR"),
    (exceptions.NotFound, "NOT_FOUND"),
    (exceptions.PermissionDenied, "FORBIDDEN"),
    (exceptions.MethodNotAllowed, "METHOD_NOT_ALLOWED"),
    (exceptions.ParseError, "MALFORMED_REQUEST"),
    (exceptions.UnsupportedMediaType, "UNSUPPORTED_MEDIA_TYPE"),
    (exceptions.NotAcceptable, "NOT_ACCEPTABLE"),
]


def error_body(code: str, message: str, fields: dict | None = None) -> dict:
    error = {"code": code, "message": message}
    if fields:
        error["fields"] = fields
    return {"error": error}


def handle_exception(exc, context) -> Response | None:
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    response = exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, ApiProblem):
        code, message, fields = exc.error_code, str(exc.detail), None
    else:
        code = next((code for kind, code in CODES if isinstance(exc, kind)), "ERROR")
        message, fields = _message(exc)
    response.data = error_body(code, message, fields)
    return response


def _message(exc: exceptions.APIException) -> tuple[str, dict | None]:
    if isinstance(exc, exceptions.ValidationError):
        detail = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        fields = {
            name: [str(m) for m in (errors if isinstance(errors, list) else [errors])]
            for name, errors in detail.items()
        }
        return "The request has invalid fields.", fields
    if isinstance(exc, exceptions.Throttled):
        return f"Too many requests; try again in {exc.wait or 1:.0f} s.", None
    return str(exc.detail), None


class Pages(PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200
