"""The delivery e-mail: exactly one per delivered order, however many tasks and sweeps try.

Audit rows tell the e-mail's story: due (in the delivering transaction), claimed (a worker is about
to send), failed (it could not; anyone may try again), sent. The latest of them decides.
"""

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from kamen.tasks import enqueue

from ..locks import lock_order
from ..models import Order, OrderEvent
from .states import record_event

E = OrderEvent.Type
MAIL_OUTCOMES = (E.EMAIL_CLAIMED, E.EMAIL_FAILED, E.EMAIL_SENT)


def mail_when_committed(order: Order) -> None:
    """Record in the delivering transaction that the buyer is owed an e-mail, and send it after commit.

    The record is what the sweeper looks for when the task never ran (broker down at commit, message
    lost with its worker).
    """
    record_event(order, E.EMAIL_DUE)
    transaction.on_commit(lambda: enqueue_delivery_email(order.pk))


def enqueue_delivery_email(order_id: int) -> None:
    from ..tasks import send_delivery_email_task

    enqueue(send_delivery_email_task, order_id)


def claim_delivery_email(order_id: int, *, now=None) -> Order | None:
    """Take the right to send a delivered order's e-mail; None if it is sent or someone else is sending.

    Commits the claim before anything is sent, so no row lock is held while the mail server is
    talked to. A claim older than MAIL_CLAIM_STALE_AFTER belongs to a worker that died mid-send and
    may be taken over (the one case in which a buyer could get the e-mail twice).
    """
    now = now or timezone.now()
    with transaction.atomic():
        order = lock_order(order_id)
        if order.status != Order.Status.DELIVERED:
            return None
        last = order.events.filter(type__in=MAIL_OUTCOMES).order_by("-id").first()
        if last is not None and last.type == E.EMAIL_SENT:
            return None
        if (
            last is not None
            and last.type == E.EMAIL_CLAIMED
            and last.created_at > now - settings.MAIL_CLAIM_STALE_AFTER
        ):
            return None
        record_event(order, E.EMAIL_CLAIMED)
    return order


def record_delivery_email(order_id: int, *, sent: bool, error: str = "") -> None:
    """After a claimed send: record that it went out, or that it failed and may be tried again."""
    with transaction.atomic():
        order = lock_order(order_id)
        if sent:
            record_event(order, E.EMAIL_SENT)
        else:
            record_event(order, E.EMAIL_FAILED, error=error[:300])


def sweep_unsent_delivery_emails(*, now=None, limit: int = 500) -> list[int]:
    """Enqueue the e-mail of delivered orders still owed one: its task was lost or gave up.

    Looks at orders paid within MAIL_SWEEP_WITHIN and delivered at least MAIL_SWEEP_AFTER ago; the
    task's claim makes sure each buyer still gets exactly one.
    """
    now = now or timezone.now()
    owed = list(
        Order.objects.filter(
            status=Order.Status.DELIVERED,
            # paid_at bounds the scan through the (status, paid_at) index; delivery follows payment.
            paid_at__gte=now - settings.MAIL_SWEEP_WITHIN,
            delivered_at__lte=now - settings.MAIL_SWEEP_AFTER,
            events__type=E.EMAIL_DUE,
        )
        .exclude(events__type=E.EMAIL_SENT)
        .order_by("pk")
        .values_list("pk", flat=True)
        .distinct()[:limit]
    )
    for order_id in owed:
        enqueue_delivery_email(order_id)
    return owed
