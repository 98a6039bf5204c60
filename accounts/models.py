from django.conf import settings
from django.contrib.auth.models import AbstractUser, BaseUserManager
from django.db import models
from django.utils.translation import gettext_lazy as _
from djmoney.models.fields import MoneyField


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


class User(AbstractUser):
    """A shopper, reseller or staff member; signs in with e-mail."""

    username = None
    email = models.EmailField(_("e-mail address"), unique=True)

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
