"""Telling an API caller how its order ended: a signed POST to its callback URL, retried with back-off.

Written in the transaction that delivers or fails the order, sent after commit by a task, outside any
row lock. A sending task first moves the row's next attempt on (a lease), so two tasks never send one
attempt; a beat sweep finds what a lost task left due.
"""

import json
import logging
import time
from datetime import timedelta

import requests
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from accounts.api_keys import secret_of
from kamen import api_signing
from kamen.tasks import enqueue

from ..models import Order, WebhookDelivery
from .api_orders import check_callback_url

logger = logging.getLogger("orders.webhooks")

# Seconds to wait after each failed attempt: about 9 hours in all over 10 attempts.
BACKOFF = [10, 30, 120, 600, 1800, 3600, 7200, 10800, 10800]
LEASE = timedelta(seconds=60)
EVENT_OF_STATUS = {
    Order.Status.DELIVERED: WebhookDelivery.Event.DELIVERED,
    Order.Status.DELIVERY_FAILED: WebhookDelivery.Event.FAILED,
}


def payload_of(order: Order, event: str) -> dict:
    """What the caller is told; the codes themselves it fetches with a signed GET of the order."""
    return {
        "event": event,
        "order": {
            "number": order.number,
            "client_order_no": order.client_order_no,
            "status": order.status,
            "sku": order.sku_id,
            "quantity": order.quantity,
            "total": f"{order.total.amount:.2f}",
        },
    }


def order_finished(order: Order) -> None:
    """In the transaction that delivered or failed `order`: its callback is due once that commits."""
    if not order.callback_url or order.api_key_id is None:
        return
    event = EVENT_OF_STATUS[order.status]
    delivery = WebhookDelivery.objects.create(
        order=order, event=event, url=order.callback_url, payload=payload_of(order, event)
    )
    transaction.on_commit(lambda: enqueue_webhook(delivery.pk))


def enqueue_webhook(delivery_id: int, *, countdown: int = 0) -> None:
    from ..tasks import send_webhook_task

    enqueue(send_webhook_task, delivery_id, countdown=countdown)


def send_webhook(delivery_id: int) -> int | None:
    """One attempt, if one is due and no other task holds it; returns seconds to the next attempt, if any."""
    now = timezone.now()
    due = WebhookDelivery.objects.filter(pk=delivery_id, state=WebhookDelivery.State.PENDING, next_attempt_at__lte=now)
    if not due.update(next_attempt_at=now + LEASE):
        return None
    delivery = WebhookDelivery.objects.select_related("order__api_key").get(pk=delivery_id)
    status, answer = _post(delivery)
    return _record(delivery, status=status, answer=answer)


def _post(delivery: WebhookDelivery) -> tuple[int | None, str]:
    try:
        # Checked again at sending time: the name may point elsewhere now than when the order was placed.
        check_callback_url(delivery.url)
    except ValidationError as error:
        return None, " ".join(error.messages)
    body = json.dumps(delivery.payload, ensure_ascii=False, separators=(",", ":")).encode()
    timestamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/json",
        api_signing.WEBHOOK_EVENT_HEADER: delivery.event,
        api_signing.TIMESTAMP_HEADER: timestamp,
        api_signing.SIGNATURE_HEADER: api_signing.sign_webhook(
            secret_of(delivery.order.api_key), timestamp=timestamp, body=body
        ),
    }
    try:
        response = requests.post(
            delivery.url, data=body, headers=headers, timeout=settings.API_WEBHOOK_TIMEOUT, allow_redirects=False
        )
    except requests.RequestException as error:
        return None, f"{type(error).__name__}: {error}"[:500]
    return response.status_code, response.text[:500]


def _record(delivery: WebhookDelivery, *, status: int | None, answer: str) -> int | None:
    now = timezone.now()
    delivery.attempts += 1
    delivery.last_status = status
    delivery.last_response = answer
    retry_in = None
    if status is not None and 200 <= status < 300:
        delivery.state, delivery.sent_at = WebhookDelivery.State.SENT, now
    elif delivery.attempts > len(BACKOFF):
        delivery.state = WebhookDelivery.State.FAILED
        logger.warning("webhook %s for order %s given up: %s %s", delivery.pk, delivery.order.number, status, answer)
    else:
        retry_in = BACKOFF[delivery.attempts - 1]
        delivery.next_attempt_at = now + timedelta(seconds=retry_in)
    delivery.save(update_fields=["attempts", "last_status", "last_response", "state", "sent_at", "next_attempt_at"])
    return retry_in


def resend_webhook(delivery: WebhookDelivery) -> WebhookDelivery:
    """The member asks for one more attempt now (after fixing their endpoint), whatever came before."""
    delivery.state = WebhookDelivery.State.PENDING
    delivery.next_attempt_at = timezone.now()
    delivery.save(update_fields=["state", "next_attempt_at"])
    transaction.on_commit(lambda: enqueue_webhook(delivery.pk))
    return delivery


def sweep_due_webhooks(limit: int = 500) -> list[int]:
    """Due attempts whose task is lost (a broker outage, a worker killed): enqueued again."""
    stale = timezone.now() - timedelta(seconds=30)
    ids = list(
        WebhookDelivery.objects.filter(state=WebhookDelivery.State.PENDING, next_attempt_at__lte=stale)
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:limit]
    )
    for delivery_id in ids:
        enqueue_webhook(delivery_id)
    return ids
