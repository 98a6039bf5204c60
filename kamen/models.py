"""What every app shares: the audit log of staff actions."""

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils.translation import gettext_lazy as _


class StaffAction(models.Model):
    """One thing a staff member did that moves money, reveals a secret or changes what the shop sells.

    Append-only: admin shows these rows and lets nobody edit or delete them. `before` and `after` hold
    the fields that changed, as the shop showed them, so a row still reads true after the object is gone.
    """

    class Kind(models.TextChoices):
        REFUND = "refund", _("Refund")
        WALLET_CREDIT = "wallet_credit", _("Wallet credit")
        CODE_REVEAL = "code_reveal", _("Card code revealed")
        EXPORT = "export", _("Export")
        PRICE_CHANGE = "price_change", _("Price change")
        LEVEL_CHANGE = "level_change", _("Member level change")
        MODERATION = "moderation", _("Moderation")
        SETTINGS_CHANGE = "settings_change", _("Shop settings change")
        RISK_RULE = "risk_rule", _("Risk rule change")

    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+", verbose_name=_("by")
    )
    kind = models.CharField(_("action"), max_length=24, choices=Kind.choices)
    target_type = models.ForeignKey(
        ContentType, on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("object type")
    )
    target_id = models.CharField(_("object id"), max_length=64, blank=True)
    target_label = models.CharField(_("object"), max_length=200, blank=True)
    before = models.JSONField(_("before"), default=dict, blank=True, encoder=DjangoJSONEncoder)
    after = models.JSONField(_("after"), default=dict, blank=True, encoder=DjangoJSONEncoder)
    note = models.CharField(_("note"), max_length=500, blank=True)
    ip = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    created_at = models.DateTimeField(_("at"), auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("staff action")
        verbose_name_plural = _("staff actions")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["kind", "-created_at"], name="staff_action_kind"),
            models.Index(fields=["target_type", "target_id"], name="staff_action_target"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} · {self.target_label}"
