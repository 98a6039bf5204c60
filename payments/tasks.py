import urllib.error
import urllib.parse
import urllib.request

from celery import shared_task

from . import services
from .models import Payment
from .providers import sandbox


@shared_task(bind=True, max_retries=8, default_retry_delay=5, acks_late=True)
def send_sandbox_notification_task(self, payment_id: int, notify_url: str) -> int:
    """Play the sandbox gateway's server: POST the signed notification, re-sending until it is accepted."""
    if urllib.parse.urlsplit(notify_url).scheme not in ("http", "https"):
        raise ValueError(f"notify URL must be http(s): {notify_url!r}")
    payment = Payment.objects.get(pk=payment_id)
    body = urllib.parse.urlencode(sandbox.build_notification(payment)).encode()
    request = urllib.request.Request(  # noqa: S310
        notify_url, data=body, headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - scheme checked above
            answer = response.read().decode()
    except (urllib.error.URLError, TimeoutError) as error:
        raise self.retry(exc=error) from error
    if answer != "success":
        raise self.retry(exc=RuntimeError(f"notify answered {answer!r}"))
    return response.status


@shared_task(acks_late=True)
def execute_refund_task(refund_id: int) -> str:
    """Send one approved refund; an unknown outcome leaves it pending for sync_processing_refunds_task."""
    return services.execute_refund(refund_id).state


@shared_task
def reconcile_payments_task() -> dict[str, int]:
    return services.reconcile_pending_payments().outcomes


@shared_task
def sync_processing_refunds_task() -> int:
    return services.sync_processing_refunds()
