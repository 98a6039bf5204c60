"""Helpers for tests that read what a page told the user."""

from django.contrib.messages import get_messages


def messages_of(response) -> list[str]:
    """The flash messages a view added for the next page."""
    return [str(message) for message in get_messages(response.wsgi_request)]
