"""Row locks of payments and refunds (see kamen.locking for the rules every lock keeps).

Across apps, one transaction locks in this order: payment, refund, wallet, order, card codes.
"""

from kamen.locking import lock_first, lock_one

from .models import Payment, Refund


def lock_payment(payment_id: int) -> Payment:
    return lock_one(Payment.objects.all(), pk=payment_id)


def lock_refund(refund_id: int) -> Refund:
    """The refund row, with its payment read (not locked) beside it."""
    return lock_one(Refund.objects.select_related("payment"), pk=refund_id)


def lock_confirmed_payment(payments) -> Payment | None:
    """The latest confirmed payment among `payments` (a queryset), locked; None if there is none."""
    return lock_first(payments.filter(state=Payment.State.CONFIRMED).order_by("-id"))
