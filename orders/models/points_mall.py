from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from djmoney.models.fields import MoneyField


class PointsReward(models.Model):
    """A reward of the points mall (积分商城): a coupon, wallet credit, or goods from a SKU delivered
    like any order, for a number of points, with stock and a per-member limit."""

    class Kind(models.TextChoices):
        COUPON = "coupon", _("Coupon")
        CREDIT = "credit", _("Wallet credit")
        GOODS = "goods", _("Goods")

    name = models.CharField(_("name"), max_length=40)
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    points = models.PositiveIntegerField(_("points"), validators=[MinValueValidator(1)])
    coupon = models.ForeignKey(
        "orders.Coupon", null=True, blank=True, on_delete=models.PROTECT, related_name="+", verbose_name=_("coupon")
    )
    credit = MoneyField(
        _("wallet credit"), max_digits=10, decimal_places=2, default_currency="CNY", null=True, blank=True
    )
    sku = models.ForeignKey(
        "catalog.Sku", null=True, blank=True, on_delete=models.PROTECT, related_name="+", verbose_name=_("spec")
    )
    stock = models.PositiveIntegerField(_("stock"), null=True, blank=True, help_text=_("Empty for no limit."))
    per_member = models.PositiveIntegerField(
        _("per member"), null=True, blank=True, default=1, help_text=_("Empty for no limit.")
    )
    # Redemptions so far; changed only under the reward's row lock, with `stock` as its bound.
    redeemed_count = models.PositiveIntegerField(_("redeemed"), default=0, editable=False)
    is_active = models.BooleanField(_("active"), default=True)
    sort_order = models.IntegerField(_("sort order"), default=0)

    class Meta:
        verbose_name = _("points reward")
        verbose_name_plural = _("points mall")
        ordering = ["sort_order", "points", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(stock__isnull=True) | models.Q(redeemed_count__lte=models.F("stock")),
                name="points_reward_within_stock",
            )
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        needs = {self.Kind.COUPON: "coupon", self.Kind.CREDIT: "credit", self.Kind.GOODS: "sku"}
        field = needs.get(self.kind)
        if field and not getattr(self, field if field != "sku" else "sku_id", None):
            raise ValidationError({field: _("Say what the reward gives.")})

    @property
    def left(self) -> int | None:
        return None if self.stock is None else max(self.stock - self.redeemed_count, 0)


class PointsRedemption(models.Model):
    """A member's redemption of a reward: what they spent and what they got (a granted coupon, a wallet
    credit, an order)."""

    reward = models.ForeignKey(PointsReward, on_delete=models.PROTECT, related_name="redemptions")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="redemptions", verbose_name=_("member")
    )
    points = models.PositiveIntegerField(_("points"))
    order = models.OneToOneField(
        "orders.Order", null=True, blank=True, on_delete=models.PROTECT, related_name="redemption"
    )
    created_at = models.DateTimeField(_("time"), default=timezone.now)

    class Meta:
        verbose_name = _("redemption")
        verbose_name_plural = _("redemptions")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["reward", "user"], name="redemption_by_member")]

    def __str__(self) -> str:
        return f"{self.user} · {self.reward}"
