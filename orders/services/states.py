"""The order state machine: every move goes through `transition`, inside a transaction, with an audit row."""

from django.utils import timezone

from accounts.models import User
from kamen.locking import require_transaction

from ..models import MOVES, IllegalTransition, Order, OrderEvent


def transition(order: Order, to_status: str, *, event: str, actor: User | None = None, **data) -> Order:
    """Apply one allowed move to a locked order and record it as `event`; raises IllegalTransition otherwise.

    The event must be one that may make this move (orders.models.MOVES): a buyer's cancel can never
    close a paid order, only a full refund can.
    """
    require_transaction(Order)
    from_status = order.status
    if event not in MOVES.get((from_status, to_status), set()):
        raise IllegalTransition(f"order {order.number}: {from_status} → {to_status} by {event} is not allowed")
    now = timezone.now()
    order.status = to_status
    fields = ["status"]
    if to_status == Order.Status.PAID and order.paid_at is None:
        order.paid_at = now
        fields.append("paid_at")
    if to_status == Order.Status.DELIVERED:
        order.delivered_at = now
        fields.append("delivered_at")
    order.save(update_fields=fields)
    OrderEvent.objects.create(
        order=order, type=event, from_status=from_status, to_status=to_status, actor=actor, data=data
    )
    return order


def record_event(order: Order, event: str, *, actor: User | None = None, **data) -> OrderEvent:
    """Record something that happened to an order without moving its status (refund requests, ...)."""
    return OrderEvent.objects.create(
        order=order,
        type=OrderEvent.Type(event),
        from_status=order.status,
        to_status=order.status,
        actor=actor,
        data=data,
    )
