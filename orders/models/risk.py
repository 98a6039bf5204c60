"""The risk rules' own table: buyers refused at checkout (黑名单) by e-mail, IP address or network,
or device."""

import ipaddress

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class BlockedBuyerQuerySet(models.QuerySet):
    def active(self, now=None) -> "BlockedBuyerQuerySet":
        now = now or timezone.now()
        return self.filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))


class BlockedBuyer(models.Model):
    """One blacklist entry. An IP entry may be a network in CIDR form (203.0.113.0/24); a device entry
    is the device fingerprint shown on an order (a keyed hash of the browser's device cookie)."""

    class Kind(models.TextChoices):
        EMAIL = "email", _("E-mail")
        IP = "ip", _("IP address or network")
        DEVICE = "device", _("Device")

    kind = models.CharField(_("kind"), max_length=8, choices=Kind.choices)
    value = models.CharField(
        _("value"),
        max_length=254,
        help_text=_(
            "An e-mail address; an IP address or a CIDR network such as 203.0.113.0/24; or a device fingerprint."
        ),
    )
    reason = models.CharField(_("reason"), max_length=200, help_text=_("For staff only; buyers never see it."))
    expires_at = models.DateTimeField(_("blocked until"), null=True, blank=True, help_text=_("Empty: for good."))
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("added by"),
        editable=False,
    )
    created_at = models.DateTimeField(_("added"), default=timezone.now, editable=False)

    objects = BlockedBuyerQuerySet.as_manager()

    class Meta:
        verbose_name = _("blocked buyer")
        verbose_name_plural = _("blacklist")
        ordering = ["-created_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["kind", "value"], name="blocked_buyer_once")]
        indexes = [models.Index(fields=["kind", "value"], name="blocked_buyer_lookup")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.value}"

    def clean(self) -> None:
        self.value = normalized_value(self.kind, self.value)


def normalized_value(kind: str, value: str) -> str:
    """The entry's value as matched: e-mail in lower case, a network in its canonical form; raises
    ValidationError for a value that can never match."""
    value = (value or "").strip()
    if kind == BlockedBuyer.Kind.EMAIL:
        validate_email(value)
        return value.lower()
    if kind == BlockedBuyer.Kind.IP:
        try:
            network = ipaddress.ip_network(value, strict=False)
        except ValueError:
            raise ValidationError({"value": _("Enter an IP address or a network such as 203.0.113.0/24.")}) from None
        return str(network.network_address) if network.num_addresses == 1 else str(network)
    if not (value.isascii() and value.isalnum() and 16 <= len(value) <= 128):
        raise ValidationError({"value": _("Enter the device fingerprint as shown on an order.")})
    return value.lower()
