from decimal import Decimal

from django.conf import settings
from django.contrib.auth.models import AbstractUser, BaseUserManager
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator, validate_email
from django.db import models
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _
from djmoney.models.fields import MoneyField

from kamen.outbound import check_public_url


class UserManager(BaseUserManager):
    use_in_migrations = True

    def _create_user(self, email: str, password: str | None, **extra):
        if not email:
            raise ValueError("An e-mail address is required.")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **extra):
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra)

    def create_superuser(self, email: str, password: str | None = None, **extra):
        from .services import confirm_email

        extra.update(is_staff=True, is_superuser=True)
        user = self._create_user(email, password, **extra)
        # Made from the shell by someone who runs the server: staff sign in without a confirmation mail.
        confirm_email(user)
        return user


def discount_label(discount: Decimal) -> str:
    """A price factor as shoppers read it: 95折 in Chinese, "5% off" in English."""
    if (get_language() or "").startswith("zh"):
        tenths = (discount * 100).quantize(Decimal("1"))
        return f"{tenths // 10 if tenths % 10 == 0 else tenths}折"
    return f"{((1 - discount) * 100).normalize():f}% off"


class MemberLevel(models.Model):
    """A member level (会员等级): its discount off retail, or the fixed prices staff set per SKU for it
    (the agency price). The level of the lowest rank is everyone's who has none, guests' too."""

    name = models.CharField(_("name"), max_length=30, unique=True)
    rank = models.PositiveIntegerField(_("rank"), unique=True, help_text=_("Higher ranks are better levels."))
    discount = models.DecimalField(
        _("price factor"),
        max_digits=4,
        decimal_places=3,
        default=Decimal("1.000"),
        help_text=_("What members pay of the retail price: 0.95 is 95折 (five per cent off), 1 is none."),
    )
    badge = models.CharField(_("badge"), max_length=12, blank=True)
    upgrade_at = models.DecimalField(
        _("upgrade at (CNY)"),
        max_digits=14,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0.01"))],
        help_text=_("A member whose paid orders reach this amount in all moves up to this level; empty: never."),
    )
    upgrade_at_topup = models.DecimalField(
        _("upgrade at top-ups of (CNY)"),
        max_digits=14,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0.01"))],
        help_text=_("A member whose wallet top-ups reach this amount in all moves up to this level; empty: never."),
    )
    price = models.DecimalField(
        _("price to buy (CNY)"),
        max_digits=10,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0.01"))],
        help_text=_("Members may buy the level outright for this much (代理 for ¥199, say); empty: not for sale."),
    )
    points_multiplier = models.DecimalField(
        _("points multiplier"),
        max_digits=4,
        decimal_places=2,
        default=Decimal("1.00"),
        validators=[MinValueValidator(Decimal("0"))],
        help_text=_("Points per yuan paid are multiplied by this for members at this level: 1.5 gives half more."),
    )
    staff_priority = models.BooleanField(
        _("first in the staff queue"),
        default=False,
        help_text=_("Orders of members at this level come first where staff deliver by hand."),
    )

    class Meta:
        verbose_name = _("member level")
        verbose_name_plural = _("member levels")
        ordering = ["rank"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(discount__gt=0, discount__lte=1),
                name="member_level_discount_in_range",
                violation_error_message=_("The price factor must be above 0 and at most 1."),
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def has_discount(self) -> bool:
        return self.discount < 1

    @property
    def discount_label(self) -> str:
        return discount_label(self.discount)


class User(AbstractUser):
    """A shopper, reseller or staff member; signs in with e-mail."""

    username = None
    email = models.EmailField(_("e-mail address"), unique=True)
    level = models.ForeignKey(
        MemberLevel, on_delete=models.PROTECT, null=True, blank=True, related_name="members", verbose_name=_("level")
    )
    # What the member's orders were paid, less what was refunded: changed only under the user row lock.
    paid_total = MoneyField(_("paid in all"), max_digits=14, decimal_places=2, default=0, default_currency="CNY")
    # What the member topped their wallet up by, less refunds of top-ups: changed only under the row lock.
    topup_total = MoneyField(_("topped up in all"), max_digits=14, decimal_places=2, default=0, default_currency="CNY")
    # Messages about money and goods are always e-mailed; these say whether the rest are.
    email_rewards = models.BooleanField(_("e-mail me about levels, coupons and points"), default=True)

    objects = UserManager()

    USERNAME_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")

    def __str__(self) -> str:
        return self.email


class Wallet(models.Model):
    """A user's balance: the cached sum of their ledger, changed only under this row's lock."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="wallet", verbose_name=_("user")
    )
    balance = MoneyField(_("balance"), max_digits=14, decimal_places=2, default_currency="CNY", default=0)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("wallet")
        verbose_name_plural = _("wallets")
        constraints = [
            models.CheckConstraint(condition=models.Q(balance__gte=0), name="wallet_balance_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.user} {self.balance}"


class WalletEntry(models.Model):
    """One append-only line of a wallet ledger; a correction is a new entry, never an edit."""

    class Kind(models.TextChoices):
        CREDIT = "credit", _("Credit by staff")
        PAYMENT = "payment", _("Order payment")
        REFUND = "refund", _("Refund")
        TOPUP = "topup", _("Top-up")
        POINTS = "points", _("Points mall")
        COMMISSION = "commission", _("Commission withdrawal")

    wallet = models.ForeignKey(Wallet, on_delete=models.PROTECT, related_name="entries", verbose_name=_("wallet"))
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    amount = MoneyField(_("amount"), max_digits=14, decimal_places=2, default_currency="CNY")
    balance_after = MoneyField(_("balance after"), max_digits=14, decimal_places=2, default_currency="CNY")
    reference = models.CharField(_("reference"), max_length=64, blank=True)
    note = models.CharField(_("note"), max_length=200, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("by"),
    )
    created_at = models.DateTimeField(_("time"), auto_now_add=True)

    class Meta:
        verbose_name = _("wallet entry")
        verbose_name_plural = _("wallet entries")
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(condition=~models.Q(amount=0), name="wallet_entry_not_zero"),
            models.CheckConstraint(condition=models.Q(balance_after__gte=0), name="wallet_entry_balance_not_negative"),
            models.UniqueConstraint(
                fields=["wallet", "kind", "reference"],
                condition=~models.Q(reference=""),
                name="wallet_entry_reference_once",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.amount}"


class LevelChange(models.Model):
    """Audit row of a member's level moving: by the rules (an upgrade, a drop after refunds) or by staff."""

    class Reason(models.TextChoices):
        UPGRADE = "upgrade", _("Upgrade: paid orders or top-ups reached the level")
        BOUGHT = "bought", _("Bought")
        DROP = "drop", _("Drop: refunds took paid orders below the level")
        STAFF = "staff", _("Set by staff")

    user = models.ForeignKey(User, on_delete=models.PROTECT, related_name="level_changes", verbose_name=_("user"))
    from_level = models.ForeignKey(
        MemberLevel, on_delete=models.PROTECT, null=True, related_name="+", verbose_name=_("from")
    )
    to_level = models.ForeignKey(
        MemberLevel, on_delete=models.PROTECT, null=True, related_name="+", verbose_name=_("to")
    )
    reason = models.CharField(_("reason"), max_length=16, choices=Reason.choices)
    paid_total = MoneyField(_("paid in all"), max_digits=14, decimal_places=2, default_currency="CNY")
    reference = models.CharField(_("reference"), max_length=64, blank=True)
    note = models.CharField(_("note"), max_length=200, blank=True)
    actor = models.ForeignKey(
        User, on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("by")
    )
    created_at = models.DateTimeField(_("at"), auto_now_add=True)

    class Meta:
        verbose_name = _("level change")
        verbose_name_plural = _("level changes")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.user} {self.from_level or '—'} → {self.to_level or '—'}"


class PointsAccount(models.Model):
    """A member's points (积分): the cached sum of their ledger and their check-in streak, changed only
    under this row's lock."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="points", verbose_name=_("user")
    )
    balance = models.PositiveIntegerField(_("points"), default=0)
    streak = models.PositiveIntegerField(_("check-in streak"), default=0)
    last_check_in = models.DateField(_("last check-in"), null=True, blank=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("points account")
        verbose_name_plural = _("points accounts")
        constraints = [models.CheckConstraint(condition=models.Q(balance__gte=0), name="points_not_negative")]

    def __str__(self) -> str:
        return f"{self.user} {self.balance}"


class PointsEntry(models.Model):
    """One append-only line of a points ledger; a reversal is a new entry, never an edit."""

    class Kind(models.TextChoices):
        EARNED = "earned", _("Earned with an order")
        REVERSED = "reversed", _("Taken back by a refund")
        CHECK_IN = "check_in", _("Daily check-in")
        REDEEMED = "redeemed", _("Spent in the points mall")
        STAFF = "staff", _("Given by staff")

    account = models.ForeignKey(
        PointsAccount, on_delete=models.PROTECT, related_name="entries", verbose_name=_("points account")
    )
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    points = models.IntegerField(_("points"))
    balance_after = models.PositiveIntegerField(_("balance after"))
    # What the entry answers (an order number, a refund, a day): the same one is never counted twice.
    reference = models.CharField(_("reference"), max_length=64)
    note = models.CharField(_("note"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("time"), auto_now_add=True)

    class Meta:
        verbose_name = _("points entry")
        verbose_name_plural = _("points entries")
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(condition=~models.Q(points=0), name="points_entry_not_zero"),
            models.UniqueConstraint(fields=["account", "kind", "reference"], name="points_entry_reference_once"),
        ]

    def __str__(self) -> str:
        return f"{self.account.user} {self.points:+d}"


class Message(models.Model):
    """One on-site message (站内信) to a member, or one e-mail to a guest, about one event: written in the
    transaction of the event, once per event and recipient (`key`), and e-mailed by a task."""

    class Kind(models.TextChoices):
        PAID = "paid", _("Order paid")
        MANUAL = "manual", _("Delivery by hand")
        DELIVERED = "delivered", _("Order delivered")
        DELIVERY_FAILED = "delivery_failed", _("Delivery being handled")
        REFUND = "refund", _("Refund decided")
        LEVEL = "level", _("Member level")
        COUPON = "coupon", _("Coupon received")
        POINTS = "points", _("Points")
        MODERATION = "moderation", _("Product review")

    # Kinds a member may choose not to receive by e-mail; the rest are about money and goods.
    OPTIONAL_EMAIL = (Kind.LEVEL, Kind.COUPON, Kind.POINTS)
    # Kinds for the message centre only: an order delivered seconds after payment is one e-mail, the
    # delivery e-mail with the order's link (orders.services.mail), not three.
    ON_SITE_ONLY = (Kind.PAID, Kind.DELIVERED)

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="inbox",
        verbose_name=_("member"),
    )
    email = models.EmailField(_("e-mail"))
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    # The event the message is about ("paid:<order number>"): one message per event and recipient.
    key = models.CharField(_("event"), max_length=100)
    title = models.CharField(_("title"), max_length=100)
    body = models.TextField(_("text"), max_length=2000)
    link = models.CharField(_("link"), max_length=300, blank=True)
    created_at = models.DateTimeField(_("time"), default=timezone.now)
    read_at = models.DateTimeField(_("read"), null=True, blank=True)
    # The e-mail's own story: due (or not wanted), claimed by a task, sent.
    email_wanted = models.BooleanField(_("e-mail wanted"), default=True)
    email_claimed_at = models.DateTimeField(null=True, blank=True, editable=False)
    emailed_at = models.DateTimeField(_("e-mailed"), null=True, blank=True)

    class Meta:
        verbose_name = _("message")
        verbose_name_plural = _("messages")
        ordering = ["-created_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["key", "email"], name="message_once_per_event")]
        indexes = [
            models.Index(fields=["user", "read_at"], name="message_unread"),
            models.Index(fields=["email_wanted", "emailed_at"], name="message_email_due"),
        ]

    def __str__(self) -> str:
        return self.title


class Announcement(models.Model):
    """公告: shown as a bar on the home page and at the top of every member's message centre."""

    title = models.CharField(_("title"), max_length=100)
    body = models.TextField(_("text"), max_length=2000, blank=True)
    link = models.CharField(_("link"), max_length=300, blank=True)
    published_at = models.DateTimeField(_("published"), default=timezone.now)
    until = models.DateTimeField(_("shown until"), null=True, blank=True)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("announcement")
        verbose_name_plural = _("announcements")
        ordering = ["-published_at", "-id"]

    def __str__(self) -> str:
        return self.title


class AlertChannel(models.Model):
    """Where staff alerts go: an e-mail address, or a group robot's webhook (企业微信, DingTalk) or a
    Telegram bot, with the events it receives."""

    class Kind(models.TextChoices):
        EMAIL = "email", _("E-mail")
        WECOM = "wecom", _("WeCom group robot (企业微信)")
        DINGTALK = "dingtalk", _("DingTalk robot (钉钉)")
        TELEGRAM = "telegram", _("Telegram bot")

    class Event(models.TextChoices):
        LOW_STOCK = "low_stock", _("Low stock on a spec")
        STAFF_QUEUE = "staff_queue", _("An order needs staff (manual delivery, failed delivery)")
        REFUND_REQUESTED = "refund_requested", _("A refund request is waiting")
        SUPPLY = "supply", _("Suppliers: a cost above the price, a sync failing, nothing delivering")
        RECONCILIATION = "reconciliation", _("The daily reconciliation does not balance")

    name = models.CharField(_("name"), max_length=40)
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    target = models.CharField(
        _("address"),
        max_length=500,
        help_text=_("The e-mail address, the robot's webhook URL, or for Telegram the bot token."),
    )
    secret = models.CharField(
        _("signing secret or chat"),
        max_length=200,
        blank=True,
        help_text=_("DingTalk: the robot's signing secret (加签), if set. Telegram: the chat id."),
    )
    events = models.JSONField(_("events"), default=list, blank=True)
    allow_private_address = models.BooleanField(
        _("allow a private address"),
        default=False,
        help_text=_("Webhooks to loopback or private networks are refused unless this is on."),
    )
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("alert channel")
        verbose_name_plural = _("alert channels")

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        unknown = set(self.events) - set(self.Event.values) if isinstance(self.events, list) else {"?"}
        if unknown:
            raise ValidationError({"events": _("Choose events from the list.")})
        if self.kind == self.Kind.EMAIL:
            validate_email(self.target)
        elif self.kind in (self.Kind.WECOM, self.Kind.DINGTALK):
            try:
                check_public_url(self.target, allow_private=self.allow_private_address)
            except ValidationError as error:
                raise ValidationError({"target": error.messages}) from None
        elif self.kind == self.Kind.TELEGRAM and not self.secret:
            raise ValidationError({"secret": _("A Telegram bot needs the chat id to write to.")})


class StaffAlert(models.Model):
    """One alert on one channel about one event: written once (`key`), sent by a task, retried."""

    channel = models.ForeignKey(AlertChannel, on_delete=models.CASCADE, related_name="alerts")
    event = models.CharField(_("event"), max_length=20, choices=AlertChannel.Event.choices)
    key = models.CharField(_("about"), max_length=100)
    text = models.TextField(_("text"), max_length=2000)
    created_at = models.DateTimeField(_("time"), default=timezone.now)
    claimed_at = models.DateTimeField(null=True, blank=True, editable=False)
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    last_error = models.CharField(_("last error"), max_length=300, blank=True)

    class Meta:
        verbose_name = _("staff alert")
        verbose_name_plural = _("staff alerts")
        ordering = ["-created_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["channel", "key"], name="staff_alert_once_per_channel")]

    def __str__(self) -> str:
        return self.text[:60]


class ApiKey(models.Model):
    """A key pair a reseller's program signs /api/v1/ requests with (kamen.api_signing).

    The secret is never stored: it is derived from the key's id and salt with the server's
    API_KEY_SECRET (accounts.api_keys.secret_of), shown once when the key is made, and only its hash
    is kept, to tell a changed API_KEY_SECRET from a forged request. A copy of the database alone
    signs nothing.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_keys", verbose_name=_("member")
    )
    name = models.CharField(_("name"), max_length=40)
    key_id = models.CharField(_("key"), max_length=40, unique=True, editable=False)
    salt = models.CharField(max_length=32, editable=False)
    secret_hash = models.CharField(max_length=64, editable=False)
    # Addresses or networks (CIDR) the key works from, one per line; empty: any.
    allowed_ips = models.TextField(_("allowed IP addresses"), blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True)
    last_used_ip = models.GenericIPAddressField(_("last used from"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)

    class Meta:
        verbose_name = _("API key")
        verbose_name_plural = _("API keys")
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.key_id})"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    @property
    def networks(self) -> list[str]:
        return [line.strip() for line in self.allowed_ips.splitlines() if line.strip()]


class ApiNonce(models.Model):
    """A nonce a signed request used: the unique pair refuses a replay within the freshness window.
    Rows older than the window are purged by beat."""

    key = models.ForeignKey(ApiKey, on_delete=models.CASCADE, related_name="+")
    nonce = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["key", "nonce"], name="api_nonce_once_per_key")]

    def __str__(self) -> str:
        return self.nonce
