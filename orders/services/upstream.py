"""Delivery of an upstream Sku: bought from a supplier after payment, never twice, never under a lock.

Each step runs in three parts (promise 9): a short transaction with the order locked decides what to
do and commits it (a purchase "ordering", or a query claimed); the supplier is called with no
transaction open; a new transaction applies the answer. Steps are safe to run any number of times
and at once: the order lock and the purchase states decide, and a database constraint allows one
open purchase per order.

- A refusal, or a request that never reached the supplier, buys nothing: the next supplier by the
  Sku's routing is asked at once (an unreachable one again after UPSTREAM_RETRY_SECONDS).
- A request that may have arrived (a timeout) is resolved by querying the supplier with our key,
  with back-off, never by ordering again. So is an accepted order still processing.
- Nothing delivered by UPSTREAM_DELIVERY_DEADLINE after payment: the order goes to the staff queue
  with every attempt on it; a purchase still open is queried on, and delivers late if it ends well.
"""

import logging
from dataclasses import dataclass
from datetime import timedelta

from celery import current_app
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from catalog import crypto
from catalog.models import Sku, Supplier
from catalog.services import store_upstream_codes
from catalog.suppliers.base import (
    PurchaseRequest,
    PurchaseState,
    SupplierError,
    SupplierRefused,
    SupplierUnavailable,
    UpstreamOrder,
    UpstreamOrderNotFound,
)
from catalog.supply import adapter_of, route
from kamen.money import cny
from kamen.tasks import enqueue

from ..locks import lock_order
from ..models import IllegalTransition, Order, OrderEvent, UpstreamPurchase
from .states import record_event, transition

logger = logging.getLogger("orders.upstream")

P = UpstreamPurchase.State
E = OrderEvent.Type
# A claimed query or an order being placed belongs to its task for this long; then another may take it.
LEASE = timedelta(seconds=60)
# How long a purchase still open after the deadline is queried on.
QUERY_FOR = timedelta(days=1)


@dataclass(frozen=True)
class Step:
    purchase: UpstreamPurchase
    kind: str  # "order" or "query"


@dataclass(frozen=True)
class Answer:
    result: UpstreamOrder | None = None
    error: SupplierError | None = None


def deliver_upstream(order_id: int) -> Order:
    """Take the order's upstream delivery one step on: place, query, fail over or give it to staff."""
    step = _next_step(order_id)
    if step is not None:
        answer = _ask(step)
        apply_answer(step.purchase.pk, answer)
    return Order.objects.get(pk=order_id)


def _next_step(order_id: int) -> Step | None:
    now = timezone.now()
    with transaction.atomic():
        order = lock_order(order_id)
        open_purchase = order.purchases.filter(state__in=[P.ORDERING, P.PROCESSING, P.UNKNOWN]).first()
        if open_purchase is not None:
            _hand_to_staff_if_late(order, now, waiting_for=open_purchase)
            return _claim_query(open_purchase, now)
        if order.status != Order.Status.PAID:
            return None
        if _hand_to_staff_if_late(order, now):
            return None
        return _start_purchase(order, now)


def _claim_query(purchase: UpstreamPurchase, now) -> Step | None:
    if purchase.created_at < now - QUERY_FOR:
        return None
    if purchase.state == P.ORDERING:
        # Placed by a task right now, or by one that died after committing: after the lease, ask.
        if purchase.created_at > now - LEASE:
            return None
    elif purchase.next_query_at and purchase.next_query_at > now:
        return None
    purchase.next_query_at = now + LEASE
    purchase.save(update_fields=["next_query_at"])
    return Step(purchase=purchase, kind="query")


def _round_started(order: Order):
    """When the current round of attempts began: payment, or staff sending the order round again."""
    retried = order.events.filter(type=E.UPSTREAM_RETRIED).order_by("-id").values_list("created_at", flat=True).first()
    return retried or order.paid_at


def _hand_to_staff_if_late(order: Order, now, *, waiting_for: UpstreamPurchase | None = None) -> bool:
    if order.status != Order.Status.PAID or now - _round_started(order) < settings.UPSTREAM_DELIVERY_DEADLINE:
        return False
    from .delivery import fail_delivery

    minutes = int(settings.UPSTREAM_DELIVERY_DEADLINE.total_seconds() // 60)
    reason = _("No supplier delivered within %(minutes)s minutes: %(attempts)s") % {
        "minutes": minutes,
        "attempts": attempts_summary(order),
    }
    if waiting_for is not None:
        reason += " " + _("Still asking %(supplier)s about %(key)s.") % {
            "supplier": waiting_for.supplier.name,
            "key": waiting_for.key,
        }
    fail_delivery(order, reason[:300])
    return True


def attempts_summary(order: Order) -> str:
    lines = []
    for purchase in order.purchases.select_related("supplier"):
        line = f"{purchase.supplier.name}: {purchase.get_state_display()}"
        lines.append(f"{line} ({purchase.message})" if purchase.message else line)
    return "; ".join(lines) or _("no supplier could sell it")


def _start_purchase(order: Order, now) -> Step | None:
    attempts = order.purchases.count()
    tried = list(order.purchases.filter(created_at__gte=_round_started(order)))
    refused = {p.supplier_id for p in tried if p.failure in ("refused", "not_found")}
    resting = {
        p.supplier_id
        for p in tried
        if p.failure == "unreachable" and p.finished_at > now - timedelta(seconds=settings.UPSTREAM_RETRY_SECONDS)
    }
    # Never at a loss: a supplier whose cost is above what the buyer paid per piece is not asked.
    candidates = [row for row in route(order.sku, exclude=refused) if row.cost <= order.unit_price]
    ready = [row for row in candidates if row.supplier_id not in resting]
    if not ready:
        if candidates:  # every one is resting after being unreachable: ask again shortly
            transaction.on_commit(lambda: enqueue_step(order.pk, countdown=settings.UPSTREAM_RETRY_SECONDS))
            return None
        from .delivery import fail_delivery

        fail_delivery(
            order, (_("No supplier can deliver it: %(attempts)s") % {"attempts": attempts_summary(order)})[:300]
        )
        return None
    chosen = ready[0]
    purchase = UpstreamPurchase.objects.create(
        order=order,
        supplier=chosen.supplier,
        supplier_product=chosen,
        key=f"{order.number}-{attempts + 1}",
        expected_cost=cny(chosen.cost.amount * order.quantity),
    )
    record_event(order, E.UPSTREAM_ORDERING, supplier=chosen.supplier.name, key=purchase.key)
    return Step(purchase=purchase, kind="order")


def _ask(step: Step) -> Answer:
    """The supplier call: no transaction is open here."""
    purchase = step.purchase
    adapter = adapter_of(purchase.supplier)
    try:
        if step.kind == "query":
            return Answer(result=adapter.query_order(purchase.key))
        return Answer(result=adapter.place_order(_request(purchase)))
    except SupplierError as error:
        return Answer(error=error)
    except Exception as error:  # an adapter's bug must not strand the purchase "ordering"
        logger.exception("supplier %s: unexpected error on %s", purchase.supplier, purchase.key)
        return Answer(error=SupplierUnavailable(f"{type(error).__name__}: {error}", sent=True))


def _request(purchase: UpstreamPurchase) -> PurchaseRequest:
    order = purchase.order
    answers = {item["label"]: item["value"] for item in order.buyer_input}
    direct = purchase.supplier_product.kind == "direct"
    return PurchaseRequest(
        key=purchase.key,
        product_code=purchase.supplier_product.code,
        quantity=order.quantity,
        account=next(iter(answers.values()), "") if direct else "",
        buyer_input=answers,
        unit_price=purchase.supplier_product.cost.amount,
    )


def apply_answer(purchase_id: int, answer: Answer) -> UpstreamPurchase:
    """Apply what the supplier said about a purchase, once: an answer to a purchase already final
    (a second callback, a late query) changes nothing."""
    with transaction.atomic():
        order_id = UpstreamPurchase.objects.values_list("order_id", flat=True).get(pk=purchase_id)
        order = lock_order(order_id)
        purchase = UpstreamPurchase.objects.select_related("supplier", "supplier_product").get(pk=purchase_id)
        if not purchase.is_open:
            return purchase
        if answer.error is not None:
            _apply_error(order, purchase, answer.error)
        else:
            _apply_result(order, purchase, answer.result)
    return purchase


def _apply_error(order: Order, purchase: UpstreamPurchase, error: SupplierError) -> None:
    message = str(error)[:300]
    if isinstance(error, SupplierRefused):
        _failed(order, purchase, failure="refused", message=message)
    elif isinstance(error, UpstreamOrderNotFound):
        _failed(order, purchase, failure="not_found", message=message)
    elif isinstance(error, SupplierUnavailable) and not error.sent and purchase.state == P.ORDERING:
        _failed(order, purchase, failure="unreachable", message=message)
    else:  # it may have bought: only asking with our key can tell
        _wait(purchase, P.UNKNOWN, message=message)


def _apply_result(order: Order, purchase: UpstreamPurchase, result: UpstreamOrder) -> None:
    if result.supplier_order_no:
        purchase.supplier_order_no = result.supplier_order_no[:64]
    if result.state == PurchaseState.FAILED:
        _failed(order, purchase, failure="refused", message=result.message[:300])
    elif result.state == PurchaseState.DELIVERED and (result.codes or purchase.supplier_product.kind == "direct"):
        _delivered(order, purchase, result)
    else:  # processing, or delivered without the codes yet: ask again
        _wait(purchase, P.PROCESSING, message=result.message[:300])


def _wait(purchase: UpstreamPurchase, state: str, *, message: str) -> None:
    seconds = min(2 ** (purchase.queries + 1), 60)
    purchase.state, purchase.message = state, message
    purchase.queries += 1
    purchase.next_query_at = timezone.now() + timedelta(seconds=seconds)
    purchase.save(update_fields=["state", "message", "queries", "next_query_at", "supplier_order_no"])
    transaction.on_commit(lambda: enqueue_step(purchase.order_id, countdown=seconds))


def _failed(order: Order, purchase: UpstreamPurchase, *, failure: str, message: str) -> None:
    purchase.state, purchase.failure, purchase.message = P.FAILED, failure, message
    purchase.finished_at = timezone.now()
    purchase.save(update_fields=["state", "failure", "message", "finished_at", "supplier_order_no"])
    record_event(order, E.UPSTREAM_FAILED, supplier=purchase.supplier.name, key=purchase.key, reason=message)
    logger.warning(
        "order %s: %s at %s failed (%s): %s", order.number, purchase.key, purchase.supplier, failure, message
    )
    if order.status == Order.Status.PAID:
        transaction.on_commit(lambda: enqueue_step(order.pk))


def _delivered(order: Order, purchase: UpstreamPurchase, result: UpstreamOrder) -> None:
    from .delivery import _delivered as after_delivery
    from .delivery import fail_delivery

    purchase.state, purchase.finished_at = P.DELIVERED, timezone.now()
    purchase.cost = cny(result.cost) if result.cost is not None else purchase.expected_cost
    purchase.save(update_fields=["state", "finished_at", "cost", "supplier_order_no"])
    try:
        with transaction.atomic():
            store_upstream_codes(order.sku, order_id=order.pk, codes=[(c.card_no, c.secret) for c in result.codes])
    except IntegrityError:
        fail_delivery(
            order, _("The supplier sent a code this shop already sold; check with %(s)s.") % {"s": purchase.supplier}
        )
        return
    if not result.codes:
        note = _("Topped up by %(supplier)s, its order number %(number)s.") % {
            "supplier": purchase.supplier.name,
            "number": purchase.supplier_order_no or purchase.key,
        }
        order.manual_delivery_encrypted = crypto.encrypt(note)
        order.save(update_fields=["manual_delivery_encrypted"])
    if order.status == Order.Status.PAID:
        transition(order, Order.Status.DELIVERED, event=E.DELIVERED, supplier=purchase.supplier.name)
    elif order.status == Order.Status.DELIVERY_FAILED:
        order.abnormal_reason = ""
        order.save(update_fields=["abnormal_reason"])
        transition(order, Order.Status.DELIVERED, event=E.DELIVERED_LATE, supplier=purchase.supplier.name)
    else:
        return  # refunded meanwhile: the goods are on record with the purchase, for staff
    after_delivery(order)


def retry_upstream_delivery(order: Order, *, actor) -> Order:
    """Staff send an order from the queue round the suppliers again (restocked there, a supplier back
    up): a new round of attempts with a new deadline. Only when nothing is in flight, so never twice."""
    with transaction.atomic():
        order = lock_order(order.pk)
        in_flight = order.purchases.filter(state__in=[P.ORDERING, P.PROCESSING, P.UNKNOWN]).exists()
        if order.status != Order.Status.DELIVERY_FAILED or not order.sku.is_upstream or in_flight:
            raise IllegalTransition(_("Only a failed upstream order with no purchase in flight can be sent again."))
        order.abnormal_reason = ""
        order.save(update_fields=["abnormal_reason"])
        transition(order, Order.Status.PAID, event=E.UPSTREAM_RETRIED, actor=actor)
        transaction.on_commit(lambda: enqueue_step(order.pk))
    return order


def enqueue_step(order_id: int, *, countdown: int = 0) -> None:
    """Another step later. Tasks run inline (the embedded run, tests) cannot wait: the sweeper takes
    the later steps there, or else a processing purchase would be asked again in a tight loop."""
    from ..tasks import deliver_order_task

    if countdown and current_app.conf.task_always_eager:
        return
    enqueue(deliver_order_task, order_id, countdown=countdown)


def notify_from_supplier(supplier: Supplier, result: UpstreamOrder) -> UpstreamPurchase | None:
    """A verified callback: a trigger, not the truth. The purchase is queried now, with our key."""
    purchase = UpstreamPurchase.objects.filter(supplier=supplier, key=result.key).first()
    if purchase is None or not purchase.is_open:
        return purchase
    UpstreamPurchase.objects.filter(pk=purchase.pk).update(next_query_at=timezone.now())
    transaction.on_commit(lambda: enqueue_step(purchase.order_id))
    return purchase


def orders_to_advance(*, now=None, limit: int = 500) -> list[int]:
    """Paid upstream orders with no purchase in flight, and orders whose open purchase is due a query."""
    now = now or timezone.now()
    waiting = Order.objects.filter(status=Order.Status.PAID, sku__delivery_kind=Sku.DeliveryKind.UPSTREAM).exclude(
        purchases__state__in=[P.ORDERING, P.PROCESSING, P.UNKNOWN]
    )
    due = UpstreamPurchase.objects.filter(
        state__in=[P.PROCESSING, P.UNKNOWN], next_query_at__lte=now, created_at__gte=now - QUERY_FOR
    ) | UpstreamPurchase.objects.filter(state=P.ORDERING, created_at__lte=now - LEASE, created_at__gte=now - QUERY_FOR)
    ids = set(waiting.values_list("pk", flat=True)[:limit]) | set(due.values_list("order_id", flat=True)[:limit])
    return sorted(ids)[:limit]


def advance_upstream_orders() -> list[int]:
    ids = orders_to_advance()
    for order_id in ids:
        enqueue_step(order_id)
    return ids
