"""Middleware that keeps a committed purchase from ending on an error page."""

import logging

from django.contrib.sessions.backends.base import UpdateError
from django.contrib.sessions.middleware import SessionMiddleware as DjangoSessionMiddleware
from django.db import InterfaceError, OperationalError

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
