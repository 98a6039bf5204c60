"""What the API pages of the member dashboard (API 对接) show a member: their own keys, the orders their
programs placed and the callbacks told about them. Anything of another member's is a 404, never a hint
that it exists."""

from django.db.models import F, QuerySet
from django.http import Http404

from accounts.models import ApiKey, User

from .models import Order, WebhookDelivery


def api_keys_of(user: User) -> QuerySet[ApiKey]:
    """The member's keys, those in use first, newest first."""
    return ApiKey.objects.filter(user=user).order_by(F("revoked_at").asc(nulls_first=True), "-id")


def get_api_key_of(user: User, pk: int | None, *, active: bool = False) -> ApiKey:
    """One of the member's keys (one still in use, with `active`); 404 otherwise."""
    key = ApiKey.objects.filter(pk=pk, user=user).first() if pk else None
    if key is None:
        raise Http404
    if active and not key.is_active:
        raise Http404
    return key


def api_orders_of(user: User) -> QuerySet[Order]:
    """The member's orders that a program placed with its own number, newest first."""
    return Order.objects.filter(user=user).exclude(client_order_no="").order_by("-created_at", "-id")


def webhook_deliveries_of(user: User) -> QuerySet[WebhookDelivery]:
    """Callbacks about the member's orders, newest first, each with its order."""
    return WebhookDelivery.objects.filter(order__user=user).select_related("order").order_by("-id")


def get_webhook_delivery_of(user: User, pk: int | None) -> WebhookDelivery:
    delivery = WebhookDelivery.objects.select_related("order").filter(pk=pk).first() if pk else None
    if delivery is None:
        raise Http404
    if delivery.order.user_id != user.pk:
        raise Http404
    return delivery
