"""Middleware: unreadable input refused before anything reads it, and a session save that never
turns a committed purchase into an error page.

Input that no part of the shop can use is refused here, before any view, form or query sees it.

PostgreSQL can neither store nor compare a string holding a NUL character: one in a path segment, a
query parameter, a form field or a cookie reaches a query and fails there, as a 500, wherever it is
read. Bytes that are not UTF-8 have no use either: every page and form of the shop is UTF-8, and
Django would quietly turn them into U+FFFD and carry on. Both are answered here with a 400 page that
says what was wrong, and nothing is read from the database or written to it. SQLite accepts a NUL,
so the rule is the same on both: it is the input that is wrong.

Views that take a gateway's raw body (`takes_raw_body`) skip the body check: they answer in the
gateway's own format and keep a record of what they refused.
"""

import logging
from collections.abc import Callable
from urllib.parse import unquote_to_bytes

from django.contrib.sessions.backends.base import UpdateError
from django.contrib.sessions.middleware import SessionMiddleware as DjangoSessionMiddleware
from django.core.exceptions import BadRequest
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse
from django.template import loader
from django.utils.translation import gettext as _

logger = logging.getLogger("kamen")

UNREACHABLE = (OperationalError, InterfaceError)


class SessionMiddleware(DjangoSessionMiddleware):
    """Django's session middleware, except that the database being unreachable for the save at the
    end of a request is logged, not a 500.

    By then the view's work is done and committed (an order placed, a payment taken). Checkout saves
    the shopper's access to the new order in the order's own transaction, so losing this last save
    loses nothing that matters; a 500 would make the shopper order again. A session really deleted
    meanwhile (a logout elsewhere) is still refused as Django refuses it.
    """

    def process_response(self, request, response):
        session = getattr(request, "session", None)
        if session is not None:
            save = session.save

            def save_or_log(must_create: bool = False) -> None:
                try:
                    save(must_create=must_create)
                except (*UNREACHABLE, UpdateError) as error:
                    # The database backend reports any failed update as UpdateError; only an
                    # unreachable database is forgiven.
                    if not isinstance(error, UNREACHABLE) and not isinstance(error.__context__, UNREACHABLE):
                        raise
                    logger.warning("session not saved at the end of %s %s: %s", request.method, request.path, error)

            session.save = save_or_log
        return super().process_response(request, response)


FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


class MalformedInput(BadRequest):
    """A request the shop cannot read; its message is shown to the visitor on the 400 page."""


def takes_raw_body(view: Callable) -> Callable:
    """Mark a view that reads and judges its request body itself (gateway notifications)."""
    view.takes_raw_body = True
    return view


def _raw(request: HttpRequest, key: str) -> bytes:
    value = request.META.get(key, "")
    # WSGI hands the raw bytes over as latin-1 text; an ASGI server has decoded them already.
    try:
        return value.encode("latin-1")
    except UnicodeEncodeError:
        return value.encode("utf-8", errors="replace")


def _nul() -> str:
    return _("It contains a NUL character.")


def _unreadable(raw: bytes) -> str:
    """Why these (percent-decoded) bytes cannot be used, or "" if they can."""
    if b"\x00" in raw:
        return _nul()
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return _("It contains bytes that are not UTF-8 text.")
    return ""


def _form_decoded(raw: bytes) -> bytes:
    return unquote_to_bytes(raw.replace(b"+", b" "))


def check_path_query_and_headers(request: HttpRequest) -> None:
    """Raise MalformedInput if the path, the query string or a header cannot be used."""
    # Django has already decoded the path, turning bytes that are not UTF-8 back into harmless
    # "%FF" text; a NUL survives that decoding.
    if "\x00" in request.path_info:
        raise MalformedInput(_("The web address cannot be read. %(problem)s") % {"problem": _nul()})
    problem = _unreadable(_form_decoded(_raw(request, "QUERY_STRING")))
    if problem:
        raise MalformedInput(_("The web address cannot be read. %(problem)s") % {"problem": problem})
    for key, value in request.META.items():
        if (key.startswith("HTTP_") or key in ("CONTENT_TYPE", "CONTENT_LENGTH")) and "\x00" in str(value):
            raise MalformedInput(_("A request header (or a cookie) contains a NUL character."))


def check_form_body(request: HttpRequest) -> None:
    """Raise MalformedInput if a submitted form field or file name cannot be used."""
    if request.content_type == "application/x-www-form-urlencoded":
        problem = _unreadable(_form_decoded(request.body))
    else:
        # multipart: file contents are the uploader's business (the import form checks its own).
        texts = [*request.POST.keys(), *(v for _key, values in request.POST.lists() for v in values)]
        texts += [upload.name or "" for uploads in request.FILES.lists() for upload in uploads[1]]
        problem = _nul() if any("\x00" in text for text in texts) else ""
    if problem:
        raise MalformedInput(_("The form cannot be read. %(problem)s") % {"problem": problem})


class MalformedInputMiddleware:
    """Refuses unreadable input with a clear 400; turns a bare 405 into a page that says so.

    Placed after LocaleMiddleware (the page is in the visitor's language) and before anything that
    loads the session, the user or a form.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        check_path_query_and_headers(request)
        response = self.get_response(request)
        if response.status_code == 405 and not response.content:
            # require_POST answers an empty 405; a visitor who lands there gets a page.
            page = HttpResponse(loader.get_template("405.html").render({}), status=405)
            page["Allow"] = response.get("Allow", "")
            return page
        return response

    def process_view(self, request: HttpRequest, view_func: Callable, view_args, view_kwargs) -> None:
        if getattr(view_func, "takes_raw_body", False):
            return
        if request.method in ("POST", "PUT", "PATCH") and request.content_type in FORM_TYPES:
            check_form_body(request)
