"""Thin tasks, all under the shared outage policy of kamen.tasks.OutageTolerantTask."""

import urllib.error
import urllib.parse
import urllib.request

from celery import shared_task

from kamen.tasks import OutageTolerantTask

from . import services
from .models import SandboxTrade
from .providers import sandbox


class NotificationNotAccepted(Exception):
    """The shop answered the sandbox gateway's notification with something other than "success"."""


@shared_task(base=OutageTolerantTask, bind=True)
def send_sandbox_notification_task(self, trade_no: str, notify_url: str) -> int:
    """Play the sandbox gateway's server: POST the signed notification, re-sending until it is accepted.

    Reads the gateway's own record of the payment, as a real gateway would. When every re-send
    fails, the reconciliation job still finds the payment by querying the sandbox.
    """
    if urllib.parse.urlsplit(notify_url).scheme not in ("http", "https"):
        raise ValueError(f"notify URL must be http(s): {notify_url!r}")
    trade = SandboxTrade.objects.get(trade_no=trade_no, state=SandboxTrade.State.PAID)
    body = urllib.parse.urlencode(sandbox.build_notification(trade)).encode()
    request = urllib.request.Request(  # noqa: S310
        notify_url, data=body, headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - scheme checked above
            answer = response.read().decode()
    except urllib.error.HTTPError as error:  # the shop answered, with an error: send again later
        raise self.retry_later(exc=NotificationNotAccepted(f"notify answered HTTP {error.code}")) from error
    if answer != "success":
        raise self.retry_later(exc=NotificationNotAccepted(f"notify answered {answer[:60]!r}"))
    return response.status


@shared_task(base=OutageTolerantTask)
def execute_refund_task(refund_id: int) -> str:
    """Send one approved refund; an unknown outcome leaves it pending for sync_processing_refunds_task."""
    return services.execute_refund(refund_id).state


@shared_task(base=OutageTolerantTask)
def reconcile_payments_task() -> dict[str, int]:
    return services.reconcile_pending_payments().outcomes


@shared_task(base=OutageTolerantTask)
def sync_processing_refunds_task() -> int:
    return services.sync_processing_refunds()
