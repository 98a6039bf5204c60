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
    """DRF's answer in our envelope; anything DRF does not know is logged and answered as JSON too,
    so a program never has to read an HTML error page."""
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    response = exception_handler(exc, context)
    if response is None:
        logger.exception("API error in %s", context.get("view").__class__.__name__, exc_info=exc)
        return Response(error_body("SERVER_ERROR", "Something went wrong on our side; try again."), status=500)
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


ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string", "description": "A stable code: programs branch on it."},
                "message": {"type": "string"},
                "fields": {
                    "type": "object",
                    "additionalProperties": {"type": "array", "items": {"type": "string"}},
                    "description": "Validation errors by field name.",
                },
            },
        }
    },
}
# What every signed operation may answer besides its own success, and what each status means.
REFUSALS = {
    "400": "The request has invalid fields (VALIDATION_ERROR, MALFORMED_REQUEST) or was refused (ORDER_REFUSED).",
    "401": "The signature was refused (INVALID_SIGNATURE).",
    "402": "The wallet balance does not cover the order (INSUFFICIENT_BALANCE).",
    "404": "Nothing of yours by that id (NOT_FOUND).",
    "409": "Out of stock (OUT_OF_STOCK), or the order number is taken by another order (DUPLICATE_ORDER).",
    "429": "Too many requests for this key (RATE_LIMITED).",
}
ONLY_WHEN_ORDERING = {"402", "409"}


def add_error_responses(result, generator, request, public):
    """drf-spectacular postprocessing hook: the error envelope as a component, and the refusals each
    operation can answer with it."""
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    reference = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    for path, operations in result.get("paths", {}).items():
        for method, operation in operations.items():
            for status_code, description in REFUSALS.items():
                if status_code in ONLY_WHEN_ORDERING and not (method == "post" and path.endswith("/orders/")):
                    continue
                operation["responses"].setdefault(status_code, {"description": description, "content": reference})
    return result
