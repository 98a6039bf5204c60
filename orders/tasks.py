"""Thin tasks: load by id, call a service. Routed to queues in settings.CELERY_TASK_ROUTES.

All of them retry outages under the shared policy of kamen.tasks.OutageTolerantTask.
"""

from celery import shared_task
from django.conf import settings
from django.core.mail import send_mail
from django.template.loader import render_to_string
from django.utils import translation

from kamen import shop_settings
from kamen.tasks import TRANSIENT_ERRORS, OutageTolerantTask

from . import services
from .models import Order
from .services import upstream, webhooks


@shared_task(base=OutageTolerantTask)
def deliver_order_task(order_id: int) -> str:
    return services.deliver_order(order_id).status


@shared_task(base=OutageTolerantTask)
def send_webhook_task(delivery_id: int) -> int | None:
    """One attempt at an API callback; a failed one is tried again after its back-off."""
    retry_in = webhooks.send_webhook(delivery_id)
    if retry_in is not None:
        webhooks.enqueue_webhook(delivery_id, countdown=retry_in)
    return retry_in


@shared_task(base=OutageTolerantTask)
def sweep_due_webhooks_task() -> int:
    return len(webhooks.sweep_due_webhooks())


@shared_task(base=OutageTolerantTask)
def advance_upstream_orders_task() -> int:
    """Upstream orders with a step due (a query after back-off, a retry after an outage, the deadline)."""
    return len(upstream.advance_upstream_orders())


@shared_task(base=OutageTolerantTask)
def expire_unpaid_orders_task() -> int:
    return services.expire_unpaid_orders()


@shared_task(base=OutageTolerantTask)
def sweep_undelivered_orders_task() -> int:
    return len(services.sweep_undelivered_orders())


@shared_task(base=OutageTolerantTask)
def sweep_unsent_delivery_emails_task() -> int:
    return len(services.sweep_unsent_delivery_emails())


@shared_task(base=OutageTolerantTask, bind=True)
def send_delivery_email_task(self, order_id: int, sent: bool = False) -> bool:
    """Tell the buyer the codes are ready, with a link to the order (never the codes themselves).

    Exactly one e-mail per order: the send is claimed first, and once the mail server has taken it,
    only its record is retried (`sent=True`), never the send. Returns whether this run sent it.
    """
    if not sent:
        order = services.claim_delivery_email(order_id)
        if order is None:
            return False
        try:
            _send(order)
        except BaseException as error:
            services.record_delivery_email(order_id, sent=False, error=repr(error))
            raise
    try:
        services.record_delivery_email(order_id, sent=True)
    except TRANSIENT_ERRORS as error:
        raise self.retry_later(exc=error, kwargs={"order_id": order_id, "sent": True}) from error
    return not sent


def _send(order: Order) -> None:
    link = settings.SITE_URL + order.get_secret_url()
    with translation.override(settings.LANGUAGE_CODE):
        context = {"order": order, "link": link, "shop_name": shop_settings.current().shop_name}
        subject = render_to_string("orders/email/delivered_subject.txt", context).strip()
        body = render_to_string("orders/email/delivered.txt", context)
    send_mail(subject, body, None, [order.contact_email])
