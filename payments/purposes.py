"""What a payment is for: the contract between payments and whatever they pay for.

Payments take money and give it back; they know nothing of orders. What a confirmed payment or a
refund means lives with its purpose — an order (`orders.purposes.OrderPurpose`), a wallet top-up
(`TopUpPurpose` below), a member level bought outright (`orders.purposes.LevelPurchasePurpose`) —
named by dotted path in settings.PAYMENT_PURPOSES and loaded once, the way payment providers and
Django's password hashers are. `Payment.purpose` stores the purpose's code.
"""

from functools import cache
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.http import HttpRequest
from django.urls import reverse
from django.utils.module_loading import import_string
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from accounts import levels
from accounts import services as wallet_services
from accounts.models import WalletEntry

from .providers import provider_name

if TYPE_CHECKING:
    from .models import Payment, Refund

TOPUP = "topup"


class PaymentPurpose:
    """Base class of payment purposes; each hook's docstring is its contract.

    The confirmation and refund hooks run inside the transaction that confirms the payment or
    completes the refund, with the Payment (or Refund) row locked: what they write commits or rolls
    back with it. They must not call out to the network (promise 9); enqueue work on commit instead.
    """

    #: Stored on the payment (`order`, `topup`, ...).
    code: str = ""
    #: Shown to staff.
    verbose_name: str = ""
    #: The link back from the payment page ("Order details", "Wallet").
    back_label: str = ""
    #: What `Payment.reference` is, for people ("Order number").
    reference_label: str = ""

    def payment_confirmed(self, payment: "Payment") -> None:
        """The money for `payment` has been taken, exactly once: deliver what it pays for.

        May raise to roll the confirmation back (the gateway is then answered with a failure and
        sends again); must never drop a payment whose money was taken.
        """
        raise NotImplementedError

    def refund_succeeded(self, refund: "Refund") -> None:
        """`refund` has moved money back, exactly once: record what that means (refunded totals, ...)."""

    def refund_failed(self, refund: "Refund") -> None:
        """The gateway refused `refund` for good; staff may send it again."""

    def is_payable(self, payment: "Payment") -> bool:
        """Whether what `payment` pays for still waits for it (an order may have been cancelled)."""
        return True

    def is_abandoned(self, payment: "Payment") -> bool:
        """Whether what `payment` pays for was given up before it expired: its trade may be closed early."""
        return False

    def can_view(self, request: HttpRequest, payment: "Payment") -> bool:
        """Whether this request may see `payment` and its payment page; others get a 404."""
        return request.user.is_authenticated and payment.user_id == request.user.pk

    def next_url(self, payment: "Payment") -> str:
        """Where the payer goes from the payment page, and once the payment is confirmed."""
        raise NotImplementedError

    def summary(self, payment: "Payment") -> str:
        """One line saying what is paid for, in the reader's language, for the payment pages."""
        return payment.description


class TopUpPurpose(PaymentPurpose):
    """充值: a confirmed top-up is credited to the payer's wallet, once, referenced by the trade number,
    and counts towards the levels reached by top-ups."""

    code = TOPUP
    verbose_name = _("Wallet top-up")
    back_label = _("Wallet")

    def payment_confirmed(self, payment: "Payment") -> None:
        wallet_services.credit_wallet(
            payment.user,
            payment.amount,
            actor=None,
            kind=WalletEntry.Kind.TOPUP,
            reference=payment.trade_no,
            note=provider_name(payment.provider, language=settings.LANGUAGE_CODE),
        )
        levels.record_topup(payment.user_id, payment.amount, reference=payment.trade_no)

    def next_url(self, payment: "Payment") -> str:
        return reverse("payments:wallet")

    def summary(self, payment: "Payment") -> str:
        return gettext("Wallet top-up")


@cache
def get_purposes() -> dict[str, PaymentPurpose]:
    purposes = [import_string(path)() for path in settings.PAYMENT_PURPOSES]
    return {purpose.code: purpose for purpose in purposes}


def get_purpose(code: str) -> PaymentPurpose:
    try:
        return get_purposes()[code]
    except KeyError:
        raise ImproperlyConfigured(f"no payment purpose {code!r} in settings.PAYMENT_PURPOSES") from None


def purpose_choices() -> list[tuple[str, str]]:
    return [(purpose.code, purpose.verbose_name) for purpose in get_purposes().values()]


@receiver(setting_changed)
def _reset_purposes(*, setting: str, **kwargs) -> None:
    if setting == "PAYMENT_PURPOSES":
        get_purposes.cache_clear()
