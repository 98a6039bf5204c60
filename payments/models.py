import secrets

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from djmoney.models.fields import MoneyField


def new_trade_no() -> str:
    """Our trade number sent to the gateway: date prefix and 64 random bits."""
    return f"P{timezone.localdate():%Y%m%d}{secrets.randbits(64):020d}"


class Payment(models.Model):
    """One attempt to pay an order through one provider. An order is paid by a confirmed payment."""

    class State(models.TextChoices):
        CREATED = "created", _("Created")
        PENDING = "pending", _("Waiting for the gateway")
        CONFIRMED = "confirmed", _("Confirmed")
        FAILED = "failed", _("Failed")
        CANCELLED = "cancelled", _("Cancelled")

    order = models.ForeignKey("orders.Order", on_delete=models.PROTECT, related_name="payments")
    provider = models.CharField(_("provider"), max_length=32)
    amount = MoneyField(_("amount"), max_digits=14, decimal_places=2, default_currency="CNY")
    trade_no = models.CharField(_("our trade number"), max_length=40, unique=True, default=new_trade_no)
    gateway_trade_no = models.CharField(_("gateway trade number"), max_length=64, blank=True)
    state = models.CharField(_("state"), max_length=16, choices=State.choices, default=State.CREATED)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    confirmed_at = models.DateTimeField(_("confirmed"), null=True, blank=True)

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
        ]

    def __str__(self) -> str:
        return self.trade_no


class PaymentNotification(models.Model):
    """Every notification a gateway sent us, stored before it is believed, with what came of it."""

    class Result(models.TextChoices):
        CONFIRMED = "confirmed", _("Confirmed the payment")
        DUPLICATE = "duplicate", _("Already confirmed, nothing changed")
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
