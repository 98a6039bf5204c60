"""The referral tree, commission rules, the commission ledger and withdrawals (分销).

Three levels of commission is the legal limit in China (《禁止传销条例》): a member's upline is stored
as exactly three columns, and a commission's tier is checked to lie between 1 and 3 by the database.
"""

import secrets
from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from djmoney.models.fields import MoneyField

from accounts.models import MemberLevel

# No 0/O, 1/I/L: codes are read off posters and typed in by hand.
INVITE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
TIERS = (1, 2, 3)


def new_invite_code() -> str:
    return "".join(secrets.choice(INVITE_ALPHABET) for _ in range(8))


def new_withdrawal_number() -> str:
    return f"W{timezone.localdate():%Y%m%d}{secrets.randbits(48):015d}"


def _money(verbose_name, **kwargs):
    return MoneyField(verbose_name, max_digits=14, decimal_places=2, default_currency="CNY", **kwargs)


class Referrer(models.Model):
    """A member's place in the referral tree (推广关系) and the cached balances of their commission ledger.

    The inviter is bound once, forever. The two members above the inviter are kept beside it, fixed
    when bound (and moved along when a member without an inviter binds one later), so a purchase
    finds its three earners in one row; there is no column for a fourth. A withdrawal takes this row's
    lock to read the member's balances, which are sums of their ledger entries.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="referrer", verbose_name=_("member")
    )
    code = models.CharField(_("invite code"), max_length=12, unique=True, default=new_invite_code)
    inviter = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="invitees",
        verbose_name=_("inviter (level 1)"),
    )
    upline_2 = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("level 2 above"),
    )
    upline_3 = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("level 3 above"),
    )
    bound_at = models.DateTimeField(_("bound"), null=True, blank=True)
    signup_ip = models.GenericIPAddressField(_("sign-up address"), null=True, blank=True)
    # Why rewards and commissions from this member's orders wait for staff (shared device, address...).
    flag = models.CharField(_("held for review because"), max_length=200, blank=True)
    # Whether the member has paid an order since (or before) binding: only the first earns the invite reward.
    first_order_paid = models.BooleanField(_("first order paid"), default=False)
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    class Meta:
        verbose_name = _("referrer")
        verbose_name_plural = _("referrers")
        constraints = [
            models.CheckConstraint(condition=~Q(inviter=F("user")), name="referrer_not_own_inviter"),
            models.CheckConstraint(
                condition=Q(upline_2__isnull=True) | Q(inviter__isnull=False), name="referrer_upline_2_has_inviter"
            ),
            models.CheckConstraint(
                condition=Q(upline_3__isnull=True) | Q(upline_2__isnull=False), name="referrer_upline_3_has_upline_2"
            ),
        ]
        indexes = [
            models.Index(fields=["upline_2"], name="referrer_level_2"),
            models.Index(fields=["upline_3"], name="referrer_level_3"),
        ]

    def __str__(self) -> str:
        return f"{self.user} ({self.code})"

    def upline(self) -> list[int]:
        """The earners of this member's purchases, nearest first: tier 1, 2, 3."""
        return [pk for pk in (self.inviter_id, self.upline_2_id, self.upline_3_id) if pk is not None]


class Sighting(models.Model):
    """A device (its cookie, hashed) or an address a member signed up or signed in from: what tells an
    invitee who is the inviter on a second account from a real new member."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    device = models.CharField(_("device"), max_length=64, blank=True)
    ip = models.GenericIPAddressField(_("address"), null=True, blank=True)
    first_seen = models.DateTimeField(_("first seen"), default=timezone.now)

    class Meta:
        verbose_name = _("sighting")
        verbose_name_plural = _("sightings")
        constraints = [models.UniqueConstraint(fields=["user", "device", "ip"], name="sighting_once")]
        indexes = [
            models.Index(fields=["device"], name="sighting_device"),
            models.Index(fields=["ip"], name="sighting_ip"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} {self.ip or ''} {self.device[:8]}"


class CommissionRule(models.Model):
    """Commission rates in per cent for the three tiers: for all goods, a category (and the categories
    under it) or a product. The nearest rule wins; 0 everywhere excludes the goods."""

    class Scope(models.TextChoices):
        ALL = "all", _("All goods")
        CATEGORY = "category", _("A category")
        PRODUCT = "product", _("A product")

    scope = models.CharField(_("applies to"), max_length=10, choices=Scope.choices)
    category = models.OneToOneField(
        "catalog.Category",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
        verbose_name=_("category"),
    )
    product = models.OneToOneField(
        "catalog.Product", null=True, blank=True, on_delete=models.CASCADE, related_name="+", verbose_name=_("product")
    )
    rate_1 = models.DecimalField(
        _("level 1 (%)"), max_digits=5, decimal_places=2, validators=[MinValueValidator(0), MaxValueValidator(100)]
    )
    rate_2 = models.DecimalField(
        _("level 2 (%)"), max_digits=5, decimal_places=2, validators=[MinValueValidator(0), MaxValueValidator(100)]
    )
    rate_3 = models.DecimalField(
        _("level 3 (%)"), max_digits=5, decimal_places=2, validators=[MinValueValidator(0), MaxValueValidator(100)]
    )

    class Meta:
        verbose_name = _("commission rule")
        verbose_name_plural = _("commission rules")
        constraints = [
            models.UniqueConstraint(fields=["scope"], condition=Q(scope="all"), name="commission_rule_one_for_all"),
            models.CheckConstraint(
                condition=(
                    Q(scope="all", category__isnull=True, product__isnull=True)
                    | Q(scope="category", category__isnull=False, product__isnull=True)
                    | Q(scope="product", category__isnull=True, product__isnull=False)
                ),
                name="commission_rule_scope_matches",
            ),
            models.CheckConstraint(
                condition=Q(rate_1__gte=0, rate_2__gte=0, rate_3__gte=0)
                & Q(rate_1__lte=100, rate_2__lte=100, rate_3__lte=100),
                name="commission_rule_rates_in_range",
            ),
        ]

    def __str__(self) -> str:
        target = self.product or self.category or self.get_scope_display()
        return f"{target}: {self.rate_1}% / {self.rate_2}% / {self.rate_3}%"

    @property
    def rates(self) -> tuple[Decimal, Decimal, Decimal]:
        return (self.rate_1, self.rate_2, self.rate_3)


class LevelTerms(models.Model):
    """What a member level means for earning: whether its members earn commissions at all, and a factor
    on the rates (an 代理 at 1.5 earns half as much again as the rules say)."""

    level = models.OneToOneField(
        MemberLevel, on_delete=models.CASCADE, related_name="commission_terms", verbose_name=_("member level")
    )
    may_earn = models.BooleanField(_("earns commissions"), default=True)
    rate_factor = models.DecimalField(
        _("rate factor"),
        max_digits=4,
        decimal_places=2,
        default=Decimal("1.00"),
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("10"))],
        help_text=_("The rules' rates are multiplied by this for members at this level: 1.5 gives half more."),
    )

    class Meta:
        verbose_name = _("commission terms of a level")
        verbose_name_plural = _("commission terms of levels")

    def __str__(self) -> str:
        return str(self.level)


class Commission(models.Model):
    """What one earner gets from one paid order: a tier's share (分销佣金) or the invite reward (邀请奖励).

    Written in the transaction that confirms the payment, at most one per order and tier; its money
    moves only through ledger entries.
    """

    class Kind(models.TextChoices):
        SALE = "sale", _("Commission")
        INVITE = "invite", _("Invite reward")

    class State(models.TextChoices):
        PENDING = "pending", _("Pending")
        REVIEW = "review", _("Held for review")
        SETTLED = "settled", _("Settled")
        REVERSED = "reversed", _("Reversed")

    earner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="commissions", verbose_name=_("earner")
    )
    buyer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("buyer")
    )
    order = models.ForeignKey(
        "orders.Order", on_delete=models.PROTECT, related_name="commissions", verbose_name=_("order")
    )
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    tier = models.PositiveSmallIntegerField(_("level"), null=True, blank=True)
    rate = models.DecimalField(_("rate (%)"), max_digits=6, decimal_places=2, null=True, blank=True)
    base = _money(_("paid for the goods"))
    amount = _money(_("amount"))
    reversed = _money(_("reversed"), default=0)
    state = models.CharField(_("state"), max_length=10, choices=State.choices, default=State.PENDING)
    flag = models.CharField(_("held for review because"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("earned"), default=timezone.now)
    settle_after = models.DateTimeField(_("settles after"))
    settled_at = models.DateTimeField(_("settled"), null=True, blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("reviewed by"),
    )
    reviewed_at = models.DateTimeField(_("reviewed"), null=True, blank=True)

    class Meta:
        verbose_name = _("commission")
        verbose_name_plural = _("commissions")
        ordering = ["-created_at", "-id"]
        constraints = [
            # 《禁止传销条例》: a sale pays three levels at most; an invite reward has no level.
            models.CheckConstraint(
                condition=Q(kind="sale", tier__gte=1, tier__lte=3, rate__isnull=False)
                | Q(kind="invite", tier__isnull=True),
                name="commission_tier_one_to_three",
            ),
            models.UniqueConstraint(
                fields=["order", "tier"], condition=Q(kind="sale"), name="commission_once_per_tier"
            ),
            models.UniqueConstraint(fields=["buyer"], condition=Q(kind="invite"), name="invite_reward_once"),
            models.CheckConstraint(condition=Q(amount__gt=0), name="commission_amount_positive"),
            models.CheckConstraint(condition=Q(amount__lte=F("base")), name="commission_within_base"),
            models.CheckConstraint(
                condition=Q(reversed__gte=0, reversed__lte=F("amount")), name="commission_reversed_within_amount"
            ),
        ]
        indexes = [
            # Settlement walks pending commissions in key order (its lock order) past none settled before.
            models.Index(fields=["id"], condition=Q(state="pending"), name="commission_pending"),
            models.Index(fields=["earner", "-created_at"], name="commission_by_earner"),
        ]

    def __str__(self) -> str:
        return f"{self.earner} {self.amount} ({self.order_id})"

    @property
    def remaining(self):
        return self.amount - self.reversed


class Withdrawal(models.Model):
    """A reseller's request to take available commissions out (提现): to an Alipay account, or into
    their wallet at once. The amount is held from the balance when asked for."""

    class Method(models.TextChoices):
        ALIPAY = "alipay", _("Alipay account")
        WALLET = "wallet", _("Wallet balance")

    class State(models.TextChoices):
        REQUESTED = "requested", _("Waiting for approval")
        SENDING = "sending", _("Being transferred")
        PAID = "paid", _("Paid")
        FAILED = "failed", _("Transfer failed, amount returned")
        DECLINED = "declined", _("Declined, amount returned")

    number = models.CharField(_("withdrawal number"), max_length=24, unique=True, default=new_withdrawal_number)
    member = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="withdrawals", verbose_name=_("member")
    )
    amount = _money(_("amount"))
    fee = _money(_("fee"), default=0)
    method = models.CharField(_("to"), max_length=10, choices=Method.choices)
    account = models.CharField(_("Alipay account"), max_length=100, blank=True)
    account_name = models.CharField(_("real name"), max_length=40, blank=True)
    state = models.CharField(_("state"), max_length=10, choices=State.choices, default=State.REQUESTED)
    # What the gateway or staff say of the payout: its transfer id, a bank reference, a refusal.
    reference = models.CharField(_("payout reference"), max_length=64, blank=True)
    message = models.CharField(_("message"), max_length=300, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("decided by"),
    )
    created_at = models.DateTimeField(_("requested"), default=timezone.now)
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)

    class Meta:
        verbose_name = _("withdrawal")
        verbose_name_plural = _("withdrawals")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="withdrawal_amount_positive"),
            models.CheckConstraint(condition=Q(fee__gte=0, fee__lt=F("amount")), name="withdrawal_fee_below_amount"),
            models.CheckConstraint(
                condition=Q(method="wallet") | ~Q(account="") & ~Q(account_name=""),
                name="withdrawal_alipay_has_account",
            ),
        ]
        indexes = [models.Index(fields=["state", "sent_at"], name="withdrawal_in_flight")]

    def __str__(self) -> str:
        return self.number

    @property
    def payout(self):
        """What reaches the member: the amount less the fee."""
        return self.amount - self.fee


W = Withdrawal.State

# Every allowed move of a withdrawal; `distribution.services.withdrawals` refuses anything else. A
# transfer that was sent ends paid or failed, never declined: its money may already have left.
WITHDRAWAL_MOVES: dict[str, set[str]] = {
    W.REQUESTED: {W.SENDING, W.PAID, W.DECLINED},
    W.SENDING: {W.PAID, W.FAILED},
    W.PAID: set(),
    W.FAILED: set(),
    W.DECLINED: set(),
}


class LedgerEntry(models.Model):
    """One append-only line of a member's commission ledger; a correction is a new entry, never an edit.

    Each kind moves its amount between the balances as BALANCE_MOVES says; a member's balances are the
    sums of those moves over their entries (`distribution.selectors.balances_of`).
    """

    class Kind(models.TextChoices):
        EARNED = "earned", _("Earned, pending")
        SETTLED = "settled", _("Settled, available")
        REVERSED_PENDING = "reversed_pending", _("Reversed before settling")
        REVERSED_AVAILABLE = "reversed_available", _("Reversed after settling")
        WITHDRAWAL_HELD = "withdrawal_held", _("Held for a withdrawal")
        WITHDRAWAL_RETURNED = "withdrawal_returned", _("Withdrawal returned")
        WITHDRAWAL_PAID = "withdrawal_paid", _("Withdrawal paid")

    member = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="commission_entries", verbose_name=_("member")
    )
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    amount = _money(_("amount"))
    commission = models.ForeignKey(
        Commission,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="entries",
        verbose_name=_("commission"),
    )
    withdrawal = models.ForeignKey(
        Withdrawal,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="entries",
        verbose_name=_("withdrawal"),
    )
    # What the entry answers (a commission, a refund of it, a withdrawal): the same one is never written twice.
    reference = models.CharField(_("reference"), max_length=80)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("by"),
    )
    note = models.CharField(_("note"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("time"), default=timezone.now)

    class Meta:
        verbose_name = _("commission ledger entry")
        verbose_name_plural = _("commission ledger")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="ledger_entry_amount_positive"),
            models.UniqueConstraint(fields=["member", "kind", "reference"], name="ledger_entry_once"),
        ]
        indexes = [models.Index(fields=["member", "kind"], name="ledger_entry_balances")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.amount}"


K = LedgerEntry.Kind

# How each kind of entry moves money between a member's balances: (from, to); None is outside.
BALANCE_MOVES: dict[str, tuple[str | None, str | None]] = {
    K.EARNED: (None, "pending"),
    K.SETTLED: ("pending", "available"),
    K.REVERSED_PENDING: ("pending", None),
    K.REVERSED_AVAILABLE: ("available", None),
    K.WITHDRAWAL_HELD: ("available", "held"),
    K.WITHDRAWAL_RETURNED: ("held", "available"),
    K.WITHDRAWAL_PAID: ("held", "withdrawn"),
}
BALANCES = ("pending", "available", "held", "withdrawn")


class WithdrawalEvent(models.Model):
    """Audit row of every step of a withdrawal: asked, approved, sent, answered, declined, paid by hand."""

    class Type(models.TextChoices):
        REQUESTED = "requested", _("Requested")
        DECLINED = "declined", _("Declined")
        SENDING = "sending", _("Transfer sent")
        PAID = "paid", _("Paid")
        PAID_BY_HAND = "paid_by_hand", _("Marked paid by staff")
        FAILED = "failed", _("Transfer failed")
        UNKNOWN = "unknown", _("Transfer answer unknown, to be queried")

    withdrawal = models.ForeignKey(Withdrawal, on_delete=models.CASCADE, related_name="events")
    type = models.CharField(_("event"), max_length=20, choices=Type.choices)
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
        verbose_name = _("withdrawal event")
        verbose_name_plural = _("withdrawal events")
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.withdrawal_id} {self.type}"
