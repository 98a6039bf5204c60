"""What the buyer is told about their order — an on-site message for a member, an e-mail for a guest
(accounts.inbox) — and what staff are alerted to (accounts.alerts), each written in the transaction of
the event, once per event."""

from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext as _

from accounts import alerts, inbox
from accounts.models import AlertChannel, Message
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


def alert_staff(order: Order, event: str, *, what: str) -> None:
    """Alert staff to `event` of the order: `what` says what waits for them."""
    with shop_language():
        text = f"{what}\n" + _("Order %(number)s · %(product)s × %(quantity)s · %(total)s") % {
            "number": order.number,
            "product": f"{order.product_title} {order.sku_name}",
            "quantity": order.quantity,
            "total": yuan(order.total),
        }
    alerts.alert_staff(event, key=f"{event}:{order.number}:{order.status}", text=text)


STAFF_QUEUE = AlertChannel.Event.STAFF_QUEUE
REFUND_REQUESTED = AlertChannel.Event.REFUND_REQUESTED
