"""The daily reconciliation (对账): the same money counted from two sides must agree to the fen.

Day checks follow each movement of the day to where it must have landed (a confirmed payment to its
order's total or its wallet top-up, a refund to the wallet); balance checks compare each cached or
derived balance with the ledger it comes from, over all time. Movements are matched by their
references, not by time, so a payment confirmed a millisecond before midnight cannot split across days.
"""

import datetime
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Sum
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from accounts import alerts
from accounts.models import AlertChannel, Wallet, WalletEntry
from distribution.models import Commission, LedgerEntry, Withdrawal
from kamen.templatetags.money import yuan
from orders.models import Order
from orders.models.order import ORDER_PURPOSE
from payments.models import Payment, Refund
from payments.purposes import TOPUP

from .figures import bounds
from .models import Reconciliation

ZERO = Decimal("0.00")
L = LedgerEntry.Kind


@dataclass(frozen=True)
class Check:
    name: str  # untranslated; shown through gettext
    left_label: str
    left: Decimal
    right_label: str
    right: Decimal

    @property
    def difference(self) -> Decimal:
        return self.left - self.right

    @property
    def balanced(self) -> bool:
        return self.difference == 0

    def as_row(self) -> dict:
        return {
            "name": self.name,
            "left_label": self.left_label,
            "left": str(self.left),
            "right_label": self.right_label,
            "right": str(self.right),
            "difference": str(self.difference),
        }


def _sum(queryset, field: str = "amount") -> Decimal:
    return (queryset.filter(**{f"{field}_currency": "CNY"}).aggregate(total=Sum(field))["total"] or ZERO).quantize(
        Decimal("0.01")
    )


def run_checks(day: datetime.date, *, balances: list[Check] | None = None) -> list[Check]:
    return [*_day_checks(day), *(balance_checks() if balances is None else balances)]


def _day_checks(day: datetime.date) -> list[Check]:
    start, end = bounds(day)
    confirmed = Payment.objects.filter(state=Payment.State.CONFIRMED, confirmed_at__gte=start, confirmed_at__lt=end)
    for_orders = confirmed.filter(purpose=ORDER_PURPOSE)
    topups = confirmed.filter(purpose=TOPUP)
    wallet_refunds = Refund.objects.filter(
        state=Refund.State.SUCCEEDED,
        destination=Refund.Destination.WALLET,
        completed_at__gte=start,
        completed_at__lt=end,
    )
    return [
        Check(
            gettext_noop("Payments for orders = the totals of the orders they paid"),
            gettext_noop("confirmed payments"),
            _sum(for_orders),
            gettext_noop("order totals"),
            _sum(Order.objects.filter(payment_links__payment__in=for_orders), "total"),
        ),
        Check(
            gettext_noop("Top-ups paid = top-ups credited to wallets"),
            gettext_noop("confirmed top-ups"),
            _sum(topups),
            gettext_noop("wallet top-up entries"),
            _sum(WalletEntry.objects.filter(kind=WalletEntry.Kind.TOPUP, reference__in=topups.values("trade_no"))),
        ),
        Check(
            gettext_noop("Refunds to the wallet = refund entries in wallets"),
            gettext_noop("refunds to the wallet"),
            _sum(wallet_refunds),
            gettext_noop("wallet refund entries"),
            _sum(
                WalletEntry.objects.filter(
                    kind=WalletEntry.Kind.REFUND, reference__in=wallet_refunds.values("refund_no")
                )
            ),
        ),
    ]


def balance_checks() -> list[Check]:
    paid_withdrawals = Withdrawal.objects.filter(state=Withdrawal.State.PAID)
    return [
        Check(
            gettext_noop("Wallet balances = the sum of the wallet ledger"),
            gettext_noop("wallet balances"),
            _sum(Wallet.objects.all(), "balance"),
            gettext_noop("wallet ledger"),
            _sum(WalletEntry.objects.all()),
        ),
        Check(
            gettext_noop("Commissions earned = commission ledger credits"),
            gettext_noop("commissions"),
            _sum(Commission.objects.all()),
            gettext_noop("ledger: earned"),
            _sum(LedgerEntry.objects.filter(kind=L.EARNED)),
        ),
        Check(
            gettext_noop("Commissions reversed = commission ledger reversals"),
            gettext_noop("reversed on commissions"),
            _sum(Commission.objects.all(), "reversed"),
            gettext_noop("ledger: reversed"),
            _sum(LedgerEntry.objects.filter(kind__in=[L.REVERSED_PENDING, L.REVERSED_AVAILABLE])),
        ),
        Check(
            gettext_noop("Withdrawals paid = commission ledger payouts"),
            gettext_noop("paid withdrawals"),
            _sum(paid_withdrawals),
            gettext_noop("ledger: withdrawals paid"),
            _sum(LedgerEntry.objects.filter(kind=L.WITHDRAWAL_PAID)),
        ),
    ]


def alert(report: Reconciliation) -> None:
    """Tell staff, once per day's report, which checks do not balance and by how much."""
    lines = [
        f"{_(row['name'])}: {_(row['left_label'])} {yuan(Decimal(row['left']))} ≠ "
        f"{_(row['right_label'])} {yuan(Decimal(row['right']))}"
        for row in report.differences
    ]
    text = _("Reconciliation of %(day)s does not balance:") % {"day": report.day} + "\n" + "\n".join(lines)
    alerts.alert_staff(AlertChannel.Event.RECONCILIATION, key=f"reconciliation:{report.day}", text=text)
