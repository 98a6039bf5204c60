"""Helpers for tests that read what a page told the user."""

from django.contrib.messages import get_messages


def messages_of(response) -> list[str]:
    """The flash messages a view added for the next page."""
    return [str(message) for message in get_messages(response.wsgi_request)]


def guest_checkout(client, sku, **fields):
    """POST the product page's checkout form as a guest paying in the sandbox; `fields` override."""
    from django.urls import reverse

    data = {
        "sku": sku.pk,
        "quantity": 2,
        "contact_email": "guest@example.com",
        "lookup_password": "secret-42",
        "payment_method": "sandbox",
        **fields,
    }
    return client.post(reverse("orders:place"), data)
