"""What the buyer is told about their order: an on-site message for a member, an e-mail for a guest
(accounts.inbox), each written in the transaction of the event, once per event."""

from django.conf import settings
from django.utils import translation

from accounts import inbox
from accounts.models import Message
from kamen.templatetags.money import yuan

from ..models import Order

K = Message.Kind


def tell_buyer(order: Order, kind: str, *, event: str, **details) -> None:
    """Tell the order's buyer about `event` of the order (its key among the order's events)."""
    link = order.get_absolute_url() if order.user_id else order.get_secret_url()
    inbox.notify(
        order.user if order.user_id else None,
        email=order.contact_email,
        kind=kind,
        key=f"order:{order.number}:{event}",
        link=link,
        number=order.number,
        amount=yuan(order.total),
        product=f"{order.product_title} {order.sku_name}",
        **details,
    )


def shop_language():
    """Message text is written once, in the shop's language, whoever's request wrote it."""
    return translation.override(settings.LANGUAGE_CODE)
