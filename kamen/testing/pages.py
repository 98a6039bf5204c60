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


def sku_admin_form(sku, *, price: str | None = None, cost: str = "", tiers=()) -> dict:
    """What the admin's SKU change form posts for `sku`: its fields, `price` and `cost` if given, and the
    inlines' management forms, with `tiers` as (from quantity, unit price) rows of its wholesale prices."""
    data = {
        "product": sku.product_id,
        "name": sku.name,
        "price_0": price or str(sku.price.amount),
        "price_1": "CNY",
        "delivery_kind": sku.delivery_kind,
        "is_active": "on" if sku.is_active else "",
        "sort_order": sku.sort_order,
        "cost_0": cost,
        "cost_1": "CNY",
        "tiers-TOTAL_FORMS": len(tiers),
        "tiers-INITIAL_FORMS": 0,
        "level_prices-TOTAL_FORMS": 0,
        "level_prices-INITIAL_FORMS": 0,
        "supplies-TOTAL_FORMS": 0,
        "supplies-INITIAL_FORMS": 0,
        "routing": sku.routing,
        "price_rule": sku.price_rule,
        "margin": str(sku.margin),
        "price_step": sku.price_step,
    }
    for index, (quantity, unit_price) in enumerate(tiers):
        data |= {
            f"tiers-{index}-min_quantity": quantity,
            f"tiers-{index}-unit_price_0": unit_price,
            f"tiers-{index}-unit_price_1": "CNY",
        }
    return data
