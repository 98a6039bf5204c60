import secrets

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from djmoney.models.fields import MoneyField

from .purposes import TOPUP, get_purpose, purpose_choices

# Providers whose money lives in our own wallet ledger: "back to the original payment" is the wallet.
WALLET_PROVIDERS = ("balance",)


def new_trade_no() -> str:
    """Our trade number sent to the gateway: date prefix and 64 random bits."""
    return f"P{timezone.localdate():%Y%m%d}{secrets.randbits(64):020d}"


def new_refund_no() -> str:
    """Our refund number, sent to the gateway as the refund's idempotency key."""
    return f"R{timezone.localdate():%Y%m%d}{secrets.randbits(64):020d}"


class Payment(models.Model):
    """One attempt to pay through one provider, for one purpose: an order, a wallet top-up (充值), ...

    What a confirmed payment means lives with its purpose (`payments.purposes`): payments take and
    return money and know nothing of what it buys. `description` and `reference` are what the payer
    and staff read (the goods, the order number); the purpose keeps its own link to the payment.
    """

    class State(models.TextChoices):
        PENDING = "pending", _("Waiting for the gateway")
        CONFIRMED = "confirmed", _("Confirmed")
        CANCELLED = "cancelled", _("Closed unpaid")

    purpose = models.CharField(_("purpose"), max_length=16, choices=purpose_choices)
    # The signed-in account behind the payment: the wallet a top-up credits and a wallet refund returns to.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="payments",
        verbose_name=_("account"),
    )
    description = models.CharField(_("paid for"), max_length=128)
    reference = models.CharField(_("reference"), max_length=40, blank=True, db_index=True)
    provider = models.CharField(_("provider"), max_length=32)
    amount = MoneyField(_("amount"), max_digits=14, decimal_places=2, default_currency="CNY")
    trade_no = models.CharField(_("our trade number"), max_length=40, unique=True, default=new_trade_no)
    gateway_trade_no = models.CharField(_("gateway trade number"), max_length=64, blank=True)
    # The gateway's id of the account that paid (Alipay buyer_id, WeChat openid): a reseller paying for
    # their own downline's orders is told apart by it.
    payer_account = models.CharField(_("payer's gateway account"), max_length=64, blank=True, db_index=True)
    state = models.CharField(_("state"), max_length=16, choices=State.choices, default=State.PENDING)
    # What the gateway gave us to draw as a QR code; kept so reopening the page asks the gateway once.
    qr_content = models.CharField(max_length=512, blank=True, editable=False)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    # After this the trade is closed at the gateway (what it pays for is no longer held).
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
            # Only an order that costs nothing is "paid" with nothing, and never through a gateway.
            models.CheckConstraint(
                condition=models.Q(amount__gt=0) | models.Q(amount=0, provider="free"), name="payment_amount_positive"
            ),
            models.CheckConstraint(
                condition=~models.Q(purpose="topup") | models.Q(user__isnull=False), name="payment_topup_has_account"
            ),
        ]
        indexes = [models.Index(fields=["state", "provider", "created_at"], name="payment_reconcile")]

    def __str__(self) -> str:
        return self.trade_no

    def get_absolute_url(self) -> str:
        """Where the payer follows this payment: the page of what it pays for."""
        return get_purpose(self.purpose).next_url(self)

    @property
    def is_topup(self) -> bool:
        return self.purpose == TOPUP


P = Payment.State

# Every allowed move of a payment; `payments.services.move_payment` refuses anything else. A payment
# closed at the gateway is still confirmed if the money was taken after all: it is never dropped.
PAYMENT_MOVES: dict[str, set[str]] = {
    P.PENDING: {P.CONFIRMED, P.CANCELLED},
    P.CANCELLED: {P.CONFIRMED},
    P.CONFIRMED: set(),
}


class Refund(models.Model):
    """Money going back for a confirmed payment: a row of its own with its own state.

    `refund_no` is the gateway's idempotency key (Alipay out_request_no, WeChat out_refund_no), so
    sending the same refund twice never moves money twice. Who may ask for one, and what it means once
    the money is back, belong to the payment's purpose (for an order: `orders.services.refunds`).
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
    #: States of a refund not finished yet: waiting for a decision or for the money to move.
    OPEN = (State.REQUESTED, State.PENDING, State.PROCESSING)

    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="refunds", verbose_name=_("payment"))
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

    @property
    def goes_to_wallet(self) -> bool:
        """Whether the money goes back to the payer's wallet (chosen so, or paid from it) or to the gateway."""
        return self.destination == self.Destination.WALLET or self.payment.provider in WALLET_PROVIDERS


R = Refund.State

# Every allowed move of a refund; `payments.services.move_refund` refuses anything else. A failed
# refund can be sent again, and the gateway may still report one we had marked failed as refunded.
REFUND_MOVES: dict[str, set[str]] = {
    R.REQUESTED: {R.PENDING, R.DECLINED},
    R.PENDING: {R.PROCESSING, R.SUCCEEDED, R.FAILED},
    R.PROCESSING: {R.SUCCEEDED, R.FAILED},
    R.FAILED: {R.PENDING, R.SUCCEEDED},
    R.SUCCEEDED: set(),
    R.DECLINED: set(),
}


class PaymentNotification(models.Model):
    """Every notification a gateway sent us, stored before it is believed, with what came of it."""

    class Result(models.TextChoices):
        CONFIRMED = "confirmed", _("Confirmed the payment")
        DUPLICATE = "duplicate", _("Already confirmed, nothing changed")
        REFUND = "refund", _("Refund notification")
        REJECTED = "rejected", _("Rejected")
        ERROR = "error", _("Error while handling")

    provider = models.CharField(_("provider"), max_length=32)
    payment = models.ForeignKey(
        Payment,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="notifications",
        verbose_name=_("payment"),
    )
    headers = models.JSONField(_("headers"), default=dict)
    body = models.TextField(_("body"))
    remote_addr = models.GenericIPAddressField(_("sent from"), null=True, blank=True)
    verified = models.BooleanField(_("verified"), default=False)
    result = models.CharField(_("result"), max_length=16, choices=Result.choices, blank=True)
    message = models.CharField(_("details"), max_length=300, blank=True)
    received_at = models.DateTimeField(_("received"), default=timezone.now)

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
