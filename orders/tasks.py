"""Thin tasks: load by id, call a service. Routed to queues in settings.CELERY_TASK_ROUTES."""

from celery import shared_task
from django.conf import settings
from django.core.mail import send_mail
from django.template.loader import render_to_string
from django.utils import translation

from . import services
from .models import Order


@shared_task(bind=True, max_retries=5, default_retry_delay=10, acks_late=True)
def deliver_order_task(self, order_id: int) -> str:
    return services.deliver_order(order_id).status


@shared_task
def expire_unpaid_orders_task() -> int:
    return services.expire_unpaid_orders()


@shared_task
def sweep_undelivered_orders_task() -> int:
    return len(services.sweep_undelivered_orders())


@shared_task(bind=True, max_retries=5, default_retry_delay=60, acks_late=True)
def send_delivery_email_task(self, order_id: int) -> None:
    """Tell the buyer the codes are ready, with a link to the order (never the codes themselves)."""
    order = Order.objects.get(pk=order_id)
    link = settings.SITE_URL + order.get_secret_url()
    with translation.override(settings.LANGUAGE_CODE):
        context = {"order": order, "link": link}
        subject = render_to_string("orders/email/delivered_subject.txt", context).strip()
        body = render_to_string("orders/email/delivered.txt", context)
    try:
        send_mail(subject, body, None, [order.contact_email])
    except OSError as error:
        raise self.retry(exc=error) from error
