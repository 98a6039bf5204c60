import secrets
from decimal import Decimal

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from djmoney.models.fields import MoneyField
from djmoney.money import Money

from accounts.models import discount_label
from kamen.money import cny

from ..lookup_passwords import check_lookup_password


def new_order_number() -> str:
    """Date prefix for people, then 64 random bits so numbers cannot be guessed or enumerated."""
    return f"{timezone.localdate():%Y%m%d}{secrets.randbits(64):020d}"


def new_access_token() -> str:
    return secrets.token_urlsafe(24)


def price_adjustments(pricing: dict) -> list[tuple[str, Money]]:
    """What took a total below the retail price, from a pricing snapshot (catalog.pricing.Quote.snapshot):
    (what, amount off) — 「会员价 黄金会员 88折 −¥2.50」「优惠券 新人立减 −¥5.00」."""
    if pricing.get("points_reward"):
        return [(_("Points mall: %(name)s") % {"name": pricing["points_reward"]}, cny(pricing["saving"]))]
    lines = []
    coupon_discount = cny(pricing.get("coupon_discount") or 0)
    price_saving = cny(cny(pricing.get("saving") or 0).amount - coupon_discount.amount)
    if price_saving.amount > 0:
        if pricing.get("wholesale_from"):
            lines.append((_("Wholesale price (from %(n)s)") % {"n": pricing["wholesale_from"]}, price_saving))
        elif pricing.get("level_discount"):
            label = _("Member price (%(level)s, %(discount)s)") % {
                "level": pricing["level"],
                "discount": discount_label(Decimal(pricing["level_discount"])),
            }
            lines.append((label, price_saving))
        elif pricing.get("level"):
            lines.append((_("Member price (%(level)s)") % {"level": pricing["level"]}, price_saving))
    if coupon_discount.amount > 0:
        lines.append((_("Coupon (%(name)s)") % {"name": pricing.get("coupon")}, coupon_discount))
    return lines


class IllegalTransition(Exception):
    pass


class Order(models.Model):
    class Status(models.TextChoices):
        PENDING_PAYMENT = "pending_payment", _("Pending payment")
        PAID = "paid", _("Paid, delivering")
        AWAITING_MANUAL = "awaiting_manual", _("Awaiting manual delivery")
        DELIVERED = "delivered", _("Delivered")
        DELIVERY_FAILED = "delivery_failed", _("Delivery failed")
        CANCELLED = "cancelled", _("Cancelled")
        EXPIRED = "expired", _("Expired")

    class RefundStatus(models.TextChoices):
        NONE = "", _("Not refunded")
        PARTLY = "partly_refunded", _("Partly refunded")
        FULL = "refunded", _("Refunded")

    number = models.CharField(_("order number"), max_length=32, unique=True, default=new_order_number)
    # The secret in a guest's order link; never shown to anyone but the buyer.
    access_token = models.CharField(max_length=64, default=new_access_token, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="orders",
        verbose_name=_("buyer"),
    )
    contact_email = models.EmailField(_("contact e-mail"))
    lookup_password = models.CharField(max_length=128, blank=True, editable=False)
    sku = models.ForeignKey("catalog.Sku", on_delete=models.PROTECT, related_name="orders", verbose_name=_("SKU"))
    product_title = models.CharField(_("product"), max_length=120)
    sku_name = models.CharField(_("spec"), max_length=60)
    quantity = models.PositiveIntegerField(_("quantity"))
    unit_price = MoneyField(_("unit price"), max_digits=12, decimal_places=2, default_currency="CNY")
    total = MoneyField(_("total"), max_digits=14, decimal_places=2, default_currency="CNY")
    payment_method = models.CharField(_("payment method"), max_length=32)
    # What the buyer filled in at checkout (game UID, QQ number, server): [{"label", "kind", "value"}].
    buyer_input = models.JSONField(_("buyer's details"), default=list, blank=True)
    # How the total came about (catalog.pricing.Quote.snapshot): a later price change never alters it.
    pricing = models.JSONField(_("pricing"), default=dict, blank=True, editable=False)
    status = models.CharField(
        _("status"), max_length=20, choices=Status.choices, default=Status.PENDING_PAYMENT, db_index=True
    )
    # Refunds are their own axis beside the delivery status: a delivered order can be refunded.
    refund_status = models.CharField(
        _("refund status"), max_length=16, choices=RefundStatus.choices, default=RefundStatus.NONE, blank=True
    )
    refunded = MoneyField(_("refunded"), max_digits=14, decimal_places=2, default_currency="CNY", default=0)
    # Why the order sits in the staff queue (stock short after a late payment, supplier error, ...).
    abnormal_reason = models.CharField(_("abnormal reason"), max_length=300, blank=True)
    # What staff delivered by hand, encrypted like card codes.
    manual_delivery_encrypted = models.TextField(blank=True, editable=False)
    created_at = models.DateTimeField(_("created"), default=timezone.now, db_index=True)
    expires_at = models.DateTimeField(_("payment due"))
    paid_at = models.DateTimeField(_("paid"), null=True, blank=True)
    delivered_at = models.DateTimeField(_("delivered"), null=True, blank=True)
    # Orders a reseller's program placed through /api/v1/: the key it signed with, its own order
    # number (one order per number, whatever is retried) and where to tell it the outcome.
    api_key = models.ForeignKey(
        "accounts.ApiKey",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="orders",
        verbose_name=_("API key"),
    )
    client_order_no = models.CharField(_("caller's order number"), max_length=64, blank=True)
    callback_url = models.URLField(_("callback URL"), max_length=500, blank=True)
    # Where the order came from, for the risk rules (orders.services.risk): the buyer's address and
    # their browser's device fingerprint (a keyed hash of its device cookie; empty through the API).
    buyer_ip = models.GenericIPAddressField(_("buyer's IP address"), null=True, blank=True)
    device = models.CharField(_("device fingerprint"), max_length=64, blank=True)

    class Meta:
        verbose_name = _("order")
        verbose_name_plural = _("orders")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["status", "expires_at"], name="order_expiry"),
            models.Index(fields=["status", "paid_at"], name="order_delivery_sweep"),
            models.Index(fields=["user", "-created_at"], name="order_by_user"),
            models.Index(fields=["sku", "created_at"], name="order_by_sku_day"),
            models.Index(fields=["buyer_ip", "paid_at"], name="order_paid_by_ip"),
            models.Index(fields=["device", "paid_at"], name="order_paid_by_device"),
        ]
        constraints = [
            models.CheckConstraint(condition=models.Q(quantity__gte=1), name="order_quantity_positive"),
            models.UniqueConstraint(
                fields=["user", "client_order_no"],
                condition=~models.Q(client_order_no=""),
                name="order_one_per_client_number",
            ),
        ]

    def __str__(self) -> str:
        return self.number

    def get_absolute_url(self) -> str:
        return reverse("orders:detail", args=[self.number])

    def get_secret_url(self) -> str:
        return reverse("orders:secret", args=[self.number, self.access_token])

    @property
    def price_adjustments(self) -> list[tuple[str, Money]]:
        return price_adjustments(self.pricing)

    def check_lookup_password(self, raw: str) -> bool:
        return check_lookup_password(raw, self.lookup_password)

    @property
    def is_final(self) -> bool:
        return self.status in (self.Status.DELIVERED, self.Status.CANCELLED, self.Status.EXPIRED)

    @property
    def manual_delivery(self) -> str:
        from catalog import crypto

        return crypto.decrypt(self.manual_delivery_encrypted) if self.manual_delivery_encrypted else ""


# `Payment.purpose` of a payment for an order (orders.purposes.OrderPurpose).
ORDER_PURPOSE = "order"


class OrderPayment(models.Model):
    """Which payment pays which order. Orders sit above payments: the link lives here, not on Payment."""

    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="payment_links")
    payment = models.OneToOneField("payments.Payment", on_delete=models.PROTECT, related_name="order_link")

    class Meta:
        verbose_name = _("order payment")
        verbose_name_plural = _("order payments")

    def __str__(self) -> str:
        return f"{self.order_id} ← {self.payment_id}"


class OrderEvent(models.Model):
    """Audit row for every move of an order and every staff action on it."""

    class Type(models.TextChoices):
        PLACED = "placed", _("Placed")
        PAID = "paid", _("Paid")
        PAID_LATE = "paid_late", _("Paid after it had closed")
        CANCELLED = "cancelled", _("Cancelled by the buyer")
        EXPIRED = "expired", _("Expired unpaid")
        DELIVERED = "delivered", _("Delivered")
        AWAITING_MANUAL = "awaiting_manual", _("Waiting for manual delivery")
        DELIVERED_MANUALLY = "delivered_manually", _("Delivered by staff")
        DELIVERY_FAILED = "delivery_failed", _("Delivery failed")
        DELIVERY_RETRIED = "delivery_retried", _("Delivered from stock by staff")
        REFUND_REQUESTED = "refund_requested", _("Refund requested")
        REFUND_APPROVED = "refund_approved", _("Refund approved")
        REFUND_DECLINED = "refund_declined", _("Refund declined")
        REFUND_FAILED = "refund_failed", _("Refund failed at the gateway")
        REFUNDED = "refunded", _("Refunded")
        CANCELLED_REFUNDED = "cancelled_refunded", _("Closed by a full refund")
        # The delivery e-mail's own story (orders.services.mail): exactly one per delivered order.
        EMAIL_DUE = "email_due", _("Delivery e-mail due")
        EMAIL_CLAIMED = "email_claimed", _("Delivery e-mail being sent")
        EMAIL_FAILED = "email_failed", _("Delivery e-mail failed, to be sent again")
        EMAIL_SENT = "email_sent", _("Delivery e-mail sent")
        COUPON_HONOURED = "coupon_honoured", _("Paid late after its coupon was used up; the price paid stands")
        # Upstream delivery (orders.services.upstream): every attempt at a supplier, and its end.
        UPSTREAM_ORDERING = "upstream_ordering", _("Ordering from a supplier")
        UPSTREAM_FAILED = "upstream_failed", _("A supplier attempt failed, nothing bought")
        DELIVERED_LATE = "delivered_late", _("Delivered by the supplier after going to staff")
        UPSTREAM_RETRIED = "upstream_retried", _("Sent to the suppliers again by staff")
        # Risk rules (orders.services.risk): a paid order held for staff instead of delivered, and let go.
        RISK_HELD = "risk_held", _("Held for review by a risk rule")
        RISK_RELEASED = "risk_released", _("Released for delivery by staff after review")

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="events", verbose_name=_("order"))
    type = models.CharField(_("event"), max_length=40, choices=Type.choices)
    from_status = models.CharField(_("status before"), max_length=20, blank=True, choices=Order.Status.choices)
    to_status = models.CharField(_("status after"), max_length=20, blank=True, choices=Order.Status.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("by"),
    )
    data = models.JSONField(_("details"), default=dict, blank=True)
    created_at = models.DateTimeField(_("time"), default=timezone.now)

    class Meta:
        verbose_name = _("order event")
        verbose_name_plural = _("order events")
        ordering = ["id"]

    def __str__(self) -> str:
        return str(self.get_type_display())


S = Order.Status
E = OrderEvent.Type

# Every allowed move of an order and the events that may make it; `orders.services.transition`
# refuses anything else. A payment can still land on an expired or cancelled order (the shopper paid
# late): it is never dropped. A paid order is closed only by a full refund, never by a cancel.
MOVES: dict[tuple[str, str], set[str]] = {
    (S.PENDING_PAYMENT, S.PAID): {E.PAID},
    (S.PENDING_PAYMENT, S.CANCELLED): {E.CANCELLED},
    (S.PENDING_PAYMENT, S.EXPIRED): {E.EXPIRED},
    (S.EXPIRED, S.PAID): {E.PAID_LATE},
    (S.CANCELLED, S.PAID): {E.PAID_LATE},
    (S.PAID, S.DELIVERED): {E.DELIVERED},
    (S.PAID, S.AWAITING_MANUAL): {E.AWAITING_MANUAL},
    (S.PAID, S.DELIVERY_FAILED): {E.DELIVERY_FAILED, E.RISK_HELD},
    (S.AWAITING_MANUAL, S.DELIVERED): {E.DELIVERED_MANUALLY},
    (S.DELIVERY_FAILED, S.DELIVERED): {E.DELIVERED_MANUALLY, E.DELIVERY_RETRIED, E.DELIVERED_LATE},
    (S.DELIVERY_FAILED, S.PAID): {E.UPSTREAM_RETRIED, E.RISK_RELEASED},
    (S.PAID, S.CANCELLED): {E.CANCELLED_REFUNDED},
    (S.AWAITING_MANUAL, S.CANCELLED): {E.CANCELLED_REFUNDED},
    (S.DELIVERY_FAILED, S.CANCELLED): {E.CANCELLED_REFUNDED},
}
# Statuses of a paid order still waiting for its goods.
UNDELIVERED = (S.PAID, S.AWAITING_MANUAL, S.DELIVERY_FAILED)
# Statuses of every paid order, delivered or not (refunds are their own axis).
PAID_STATUSES = (*UNDELIVERED, S.DELIVERED)
# Statuses of a paid order that waits for a person: the staff queue.
STAFF_QUEUE = (S.AWAITING_MANUAL, S.DELIVERY_FAILED)


class StaffQueueOrder(Order):
    """Orders waiting for a person: manual delivery, delivery failures, late payments without stock,
    orders held by a risk rule."""

    class Meta:
        proxy = True
        verbose_name = _("order needing staff")
        verbose_name_plural = _("staff queue")
