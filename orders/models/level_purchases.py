from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from djmoney.models.fields import MoneyField

# `Payment.purpose` of a member level bought outright (orders.purposes.LevelPurchasePurpose).
LEVEL_PURPOSE = "level"


class LevelPurchase(models.Model):
    """A member level bought outright (代理 for ¥199): which level the payment buys, at what price."""

    payment = models.OneToOneField(
        "payments.Payment", on_delete=models.PROTECT, related_name="level_purchase", verbose_name=_("payment")
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="level_purchases", verbose_name=_("member")
    )
    level = models.ForeignKey(
        "accounts.MemberLevel", on_delete=models.PROTECT, related_name="purchases", verbose_name=_("level")
    )
    price = MoneyField(_("price"), max_digits=10, decimal_places=2, default_currency="CNY")
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    class Meta:
        verbose_name = _("level purchase")
        verbose_name_plural = _("level purchases")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.user} → {self.level}"
