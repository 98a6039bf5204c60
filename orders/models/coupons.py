"""Coupons (优惠券): what a coupon takes off and for whom, its codes, the coupons granted to members, and
each order's use of one."""

import re

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from djmoney.models.fields import MoneyField

from catalog import pricing
from kamen.templatetags.money import yuan

# What a code may hold once normalised: ASCII letters, digits and dashes, so shoppers can type it.
CODE_PATTERN = re.compile(r"[A-Z0-9-]{3,32}")


def normalize_code(text: str) -> str:
    """A code as typed ("welcome 5 ") as it is stored ("WELCOME5")."""
    return "".join(text.split()).upper()[:64]


def validate_code(value: str) -> None:
    if not CODE_PATTERN.fullmatch(value):
        raise ValidationError(_("3 to 32 capital letters, digits or dashes."))


class Coupon(models.Model):
    """A coupon's terms. Shoppers use it by its shared `code`, by one of its single-use `codes`, or as a
    coupon granted into their account (`CouponGrant`); every use is a `CouponUse` of one order."""

    class Kind(models.TextChoices):
        AMOUNT_OFF = pricing.AMOUNT_OFF, _("Amount off above a minimum spend (满减)")
        PERCENT_OFF = pricing.PERCENT_OFF, _("Percentage off, with a cap")
        NO_THRESHOLD = pricing.NO_THRESHOLD, _("Amount off, no minimum (无门槛)")

    name = models.CharField(_("name"), max_length=40, help_text=_("Shown to shoppers, e.g. 新人立减5元."))
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices, default=Kind.AMOUNT_OFF)
    code = models.CharField(
        _("shared code"),
        max_length=32,
        unique=True,
        null=True,
        blank=True,
        validators=[validate_code],
        help_text=_("One code everyone may type, such as WELCOME5; leave empty for single-use codes or grants."),
    )
    amount_off = MoneyField(
        _("amount off"), max_digits=10, decimal_places=2, default_currency="CNY", default=0, blank=True
    )
    percent_off = models.PositiveSmallIntegerField(
        _("percent off"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(100)],
        help_text=_("10 takes a tenth off (九折); 100 makes the goods free."),
    )
    max_discount = MoneyField(
        _("cap"),
        max_digits=10,
        decimal_places=2,
        default_currency="CNY",
        null=True,
        blank=True,
        help_text=_("The most a percentage coupon takes off; empty for no cap."),
    )
    min_spend = MoneyField(
        _("minimum spend"),
        max_digits=10,
        decimal_places=2,
        default_currency="CNY",
        default=0,
        blank=True,
        help_text=_("The goods must cost at least this much, after member and wholesale prices."),
    )
    categories = models.ManyToManyField("catalog.Category", blank=True, related_name="+", verbose_name=_("categories"))
    products = models.ManyToManyField("catalog.Product", blank=True, related_name="+", verbose_name=_("products"))
    skus = models.ManyToManyField("catalog.Sku", blank=True, related_name="+", verbose_name=_("specs"))
    levels = models.ManyToManyField(
        "accounts.MemberLevel",
        blank=True,
        related_name="+",
        verbose_name=_("member levels"),
        help_text=_("Only members of these levels may use it; none chosen: everyone."),
    )
    first_order_only = models.BooleanField(_("first order only"), default=False)
    combines_with_member_price = models.BooleanField(
        _("combines with member prices"),
        default=True,
        help_text=_("Off: the coupon applies to the retail price instead, and the shopper pays whichever is lower."),
    )
    valid_from = models.DateTimeField(_("valid from"), null=True, blank=True)
    valid_until = models.DateTimeField(_("valid until"), null=True, blank=True)
    total_uses = models.PositiveIntegerField(
        _("uses in all"), null=True, blank=True, help_text=_("Empty for no limit.")
    )
    uses_per_member = models.PositiveIntegerField(
        _("uses per member"),
        null=True,
        blank=True,
        default=1,
        help_text=_("Empty for no limit; a coupon with a limit is for signed-in members only."),
    )
    is_active = models.BooleanField(_("active"), default=True)
    # Uses held by unpaid orders and used by paid ones; changed only under the coupon's row lock.
    used_count = models.PositiveIntegerField(_("uses taken"), default=0, editable=False)
    created_at = models.DateTimeField(_("created"), default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("coupon")
        verbose_name_plural = _("coupons")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(total_uses__isnull=True) | models.Q(used_count__lte=models.F("total_uses")),
                name="coupon_uses_within_limit",
            ),
            models.CheckConstraint(
                condition=~models.Q(kind=pricing.PERCENT_OFF) | models.Q(percent_off__gte=1, percent_off__lte=100),
                name="coupon_percent_between_1_and_100",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs):
        if self.code:
            self.code = normalize_code(self.code)
        else:
            self.code = None  # unique, and many coupons have none
        super().save(*args, **kwargs)

    def clean(self) -> None:
        errors = {}
        if self.kind == self.Kind.PERCENT_OFF and not self.percent_off:
            errors["percent_off"] = _("A percentage coupon needs its percentage.")
        if self.kind != self.Kind.PERCENT_OFF and not (self.amount_off and self.amount_off.amount > 0):
            errors["amount_off"] = _("Say how much the coupon takes off.")
        if self.kind == self.Kind.NO_THRESHOLD and self.min_spend and self.min_spend.amount > 0:
            errors["min_spend"] = _("A coupon with no minimum has no minimum spend.")
        if self.valid_from and self.valid_until and self.valid_until <= self.valid_from:
            errors["valid_until"] = _("The end must come after the start.")
        if errors:
            raise ValidationError(errors)

    @property
    def terms(self) -> str:
        """The offer as staff and shoppers say it: 满¥100.00 减¥10.00, 15% 折扣 最高减¥20.00, 无门槛减¥5.00."""
        if self.kind == self.Kind.PERCENT_OFF:
            text = gettext("%(percent)s%% off") % {"percent": self.percent_off or 0}
            if self.max_discount is not None:
                text += " " + gettext("up to %(cap)s") % {"cap": yuan(self.max_discount)}
        elif self.kind == self.Kind.NO_THRESHOLD:
            return gettext("%(amount)s off, no minimum") % {"amount": yuan(self.amount_off)}
        else:
            text = gettext("%(amount)s off") % {"amount": yuan(self.amount_off)}
        if self.min_spend and self.min_spend.amount > 0:
            text = gettext("From %(minimum)s: %(offer)s") % {"minimum": yuan(self.min_spend), "offer": text}
        return text

    @property
    def members_only(self) -> bool:
        """Whether a guest cannot use it: its limits count per member."""
        return self.uses_per_member is not None or self.first_order_only


class CouponCode(models.Model):
    """One single-use code of a coupon, generated in a batch in admin and handed out by staff."""

    coupon = models.ForeignKey(Coupon, on_delete=models.CASCADE, related_name="codes", verbose_name=_("coupon"))
    code = models.CharField(_("code"), max_length=32, unique=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    class Meta:
        verbose_name = _("coupon code")
        verbose_name_plural = _("coupon codes")
        ordering = ["id"]

    def __str__(self) -> str:
        return self.code


class CouponGrant(models.Model):
    """A coupon given into a member's account (我的优惠券), by staff or by the shop: usable once."""

    class Reason(models.TextChoices):
        STAFF = "staff", _("Given by staff")
        WELCOME = "welcome", _("Welcome gift")
        POINTS = "points", _("Points mall")
        INVITED = "invited", _("Invited by a friend")

    coupon = models.ForeignKey(Coupon, on_delete=models.PROTECT, related_name="grants", verbose_name=_("coupon"))
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="coupon_grants", verbose_name=_("member")
    )
    reason = models.CharField(_("reason"), max_length=16, choices=Reason.choices, default=Reason.STAFF)
    # What the grant answers (a staff request, a redemption): a retried grant with it is a no-op.
    reference = models.CharField(_("reference"), max_length=64)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("by"),
    )
    granted_at = models.DateTimeField(_("granted"), default=timezone.now)

    class Meta:
        verbose_name = _("coupon granted")
        verbose_name_plural = _("coupons granted")
        ordering = ["-granted_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["user", "coupon", "reference"], name="coupon_grant_once_per_reference")
        ]

    def __str__(self) -> str:
        return f"{self.coupon} → {self.user}"


class CouponUse(models.Model):
    """One order's use of a coupon: held while the order waits for payment, used once it is paid,
    released when it is cancelled or expires."""

    class State(models.TextChoices):
        HELD = "held", _("Held by an unpaid order")
        USED = "used", _("Used")
        RELEASED = "released", _("Released")

    ACTIVE = (State.HELD, State.USED)

    order = models.OneToOneField(
        "orders.Order", on_delete=models.PROTECT, related_name="coupon_use", verbose_name=_("order")
    )
    coupon = models.ForeignKey(Coupon, on_delete=models.PROTECT, related_name="uses", verbose_name=_("coupon"))
    code = models.ForeignKey(
        CouponCode, null=True, blank=True, on_delete=models.PROTECT, related_name="uses", verbose_name=_("code")
    )
    grant = models.ForeignKey(
        CouponGrant, null=True, blank=True, on_delete=models.PROTECT, related_name="uses", verbose_name=_("grant")
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="coupon_uses",
        verbose_name=_("member"),
    )
    state = models.CharField(_("state"), max_length=10, choices=State.choices, default=State.HELD)
    discount = MoneyField(_("discount"), max_digits=10, decimal_places=2, default_currency="CNY")
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated"), default=timezone.now)

    class Meta:
        verbose_name = _("coupon use")
        verbose_name_plural = _("coupon uses")
        ordering = ["-created_at", "-id"]
        constraints = [
            # A single-use code or a granted coupon goes to one order at a time, and to one paid order ever.
            models.UniqueConstraint(
                fields=["code"], condition=models.Q(state__in=["held", "used"]), name="coupon_code_used_once"
            ),
            models.UniqueConstraint(
                fields=["grant"], condition=models.Q(state__in=["held", "used"]), name="coupon_grant_used_once"
            ),
        ]
        indexes = [models.Index(fields=["coupon", "user", "state"], name="coupon_use_by_member")]

    def __str__(self) -> str:
        return f"{self.coupon} · {self.order_id}"
