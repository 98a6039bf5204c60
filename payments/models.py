import secrets

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from djmoney.models.fields import MoneyField


def new_trade_no() -> str:
    """Our trade number sent to the gateway: date prefix and 64 random bits."""
    return f"P{timezone.localdate():%Y%m%d}{secrets.randbits(64):020d}"


def new_refund_no() -> str:
    """Our refund number, sent to the gateway as the refund's idempotency key."""
    return f"R{timezone.localdate():%Y%m%d}{secrets.randbits(64):020d}"


class Payment(models.Model):
    """One attempt to pay through one provider: for an order, or to top up a wallet (充值).

    An order is paid by a confirmed payment; a confirmed top-up is credited to `user`'s wallet.
    """

    class State(models.TextChoices):
        CREATED = "created", _("Created")
        PENDING = "pending", _("Waiting for the gateway")
        CONFIRMED = "confirmed", _("Confirmed")
        FAILED = "failed", _("Failed")
        CANCELLED = "cancelled", _("Closed unpaid")

    class Purpose(models.TextChoices):
        ORDER = "order", _("Order")
        TOPUP = "topup", _("Wallet top-up")

    purpose = models.CharField(_("purpose"), max_length=8, choices=Purpose.choices, default=Purpose.ORDER)
    order = models.ForeignKey(
        "orders.Order",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="payments",
        verbose_name=_("order"),
    )
    # The account a top-up credits.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="topups",
        verbose_name=_("account"),
    )
    provider = models.CharField(_("provider"), max_length=32)
    amount = MoneyField(_("amount"), max_digits=14, decimal_places=2, default_currency="CNY")
    trade_no = models.CharField(_("our trade number"), max_length=40, unique=True, default=new_trade_no)
    gateway_trade_no = models.CharField(_("gateway trade number"), max_length=64, blank=True)
    state = models.CharField(_("state"), max_length=16, choices=State.choices, default=State.CREATED)
    # What the gateway gave us to draw as a QR code; kept so reopening the page asks the gateway once.
    qr_content = models.CharField(max_length=512, blank=True, editable=False)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    # After this the trade is closed at the gateway (the order's codes are no longer held).
    expires_at = models.DateTimeField(_("pay before"), default=timezone.now)
    confirmed_at = models.DateTimeField(_("confirmed"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)

    class Meta:
        verbose_name = _("payment")
        verbose_name_plural = _("payments")
        ordering = ["-id"]
        constraints = [
            # One gateway trade can confirm one payment of ours, never two.
            models.UniqueConstraint(
                fields=["provider", "gateway_trade_no"],
                condition=~models.Q(gateway_trade_no=""),
                name="payment_gateway_trade_once",
            ),
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="payment_amount_positive"),
            models.CheckConstraint(
                condition=models.Q(purpose="order", order__isnull=False)
                | models.Q(purpose="topup", order__isnull=True, user__isnull=False),
                name="payment_pays_an_order_or_a_topup",
            ),
        ]
        indexes = [models.Index(fields=["state", "provider", "created_at"], name="payment_reconcile")]

    def __str__(self) -> str:
        return self.trade_no

    def get_absolute_url(self) -> str:
        """Where the shopper follows this payment: the order page, or the wallet for a top-up."""
        if self.order_id:
            return self.order.get_absolute_url()
        return reverse("accounts:wallet")

    @property
    def is_topup(self) -> bool:
        return self.purpose == self.Purpose.TOPUP


class Refund(models.Model):
    """Money going back for a paid order: a row of its own with its own state.

    `refund_no` is the gateway's idempotency key (Alipay out_request_no, WeChat out_refund_no), so
    sending the same refund twice never moves money twice.
    """

    class State(models.TextChoices):
        REQUESTED = "requested", _("Requested by the buyer")
        PENDING = "pending", _("Approved, sending")
        PROCESSING = "processing", _("Processing at the gateway")
        SUCCEEDED = "succeeded", _("Refunded")
        FAILED = "failed", _("Failed")
        DECLINED = "declined", _("Declined")

    class Destination(models.TextChoices):
        ORIGINAL = "original", _("Back to the original payment")
        WALLET = "wallet", _("To the wallet balance")

    #: States whose amount counts against what is left to refund.
    HOLDING = (State.REQUESTED, State.PENDING, State.PROCESSING, State.SUCCEEDED)
    #: States in which the buyer waits and may not ask again.
    OPEN_FOR_BUYER = (State.REQUESTED, State.PENDING, State.PROCESSING)

    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="refunds", verbose_name=_("payment"))
    order = models.ForeignKey("orders.Order", on_delete=models.PROTECT, related_name="refunds", verbose_name=_("order"))
    refund_no = models.CharField(_("refund number"), max_length=40, unique=True, default=new_refund_no)
    amount = MoneyField(_("amount"), max_digits=14, decimal_places=2, default_currency="CNY")
    destination = models.CharField(
        _("refund to"), max_length=16, choices=Destination.choices, default=Destination.ORIGINAL
    )
    state = models.CharField(_("state"), max_length=16, choices=State.choices, db_index=True)
    reason = models.CharField(_("reason"), max_length=300, blank=True)
    # Staff decide whether the delivered codes are withdrawn; a refund alone never voids them.
    void_codes = models.BooleanField(_("void delivered codes"), default=False)
    staff_note = models.CharField(_("staff note"), max_length=300, blank=True)
    gateway_refund_id = models.CharField(_("gateway refund id"), max_length=64, blank=True)
    message = models.CharField(_("gateway message"), max_length=300, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("requested by"),
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("decided by"),
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    decided_at = models.DateTimeField(_("decided"), null=True, blank=True)
    completed_at = models.DateTimeField(_("completed"), null=True, blank=True)

    class Meta:
        verbose_name = _("refund")
        verbose_name_plural = _("refunds")
        ordering = ["-id"]
        constraints = [models.CheckConstraint(condition=models.Q(amount__gt=0), name="refund_amount_positive")]

    def __str__(self) -> str:
        return self.refund_no


class PaymentNotification(models.Model):
    """Every notification a gateway sent us, stored before it is believed, with what came of it."""

    class Result(models.TextChoices):
        CONFIRMED = "confirmed", _("Confirmed the payment")
        DUPLICATE = "duplicate", _("Already confirmed, nothing changed")
        REFUND = "refund", _("Refund notification")
        REJECTED = "rejected", _("Rejected")
        ERROR = "error", _("Error while handling")

    provider = models.CharField(max_length=32)
    payment = models.ForeignKey(Payment, null=True, blank=True, on_delete=models.PROTECT, related_name="notifications")
    headers = models.JSONField(default=dict)
    body = models.TextField()
    remote_addr = models.GenericIPAddressField(null=True, blank=True)
    verified = models.BooleanField(default=False)
    result = models.CharField(max_length=16, choices=Result.choices, blank=True)
    message = models.CharField(max_length=300, blank=True)
    received_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("payment notification")
        verbose_name_plural = _("payment notifications")
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.provider} {self.result} {self.received_at:%Y-%m-%d %H:%M:%S}"


class SandboxTrade(models.Model):
    """The sandbox gateway's own books: what a shopper paid at its cashier, or that a trade was closed.

    It plays the records a real gateway keeps on its side. The sandbox's `query` reads these rows and
    never our Payment, so a lost notification is found the way it is found for Alipay and WeChat Pay.
    """

    class State(models.TextChoices):
        PAID = "paid", _("Paid")
        CLOSED = "closed", _("Closed")

    trade_no = models.CharField(_("merchant trade number"), max_length=40, unique=True)
    gateway_trade_no = models.CharField(_("gateway trade number"), max_length=64, unique=True)
    amount = MoneyField(_("amount"), max_digits=14, decimal_places=2, default_currency="CNY")
    state = models.CharField(_("state"), max_length=8, choices=State.choices)
    # The merchant's deadline as the gateway was told it (Alipay time_expire, WeChat Pay time_expire).
    expires_at = models.DateTimeField(_("pay before"))
    paid_at = models.DateTimeField(_("paid"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)

    class Meta:
        verbose_name = _("sandbox gateway trade")
        verbose_name_plural = _("sandbox gateway trades")
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.trade_no} {self.state}"
