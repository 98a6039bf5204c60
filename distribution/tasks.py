"""Thin tasks of distribution: settlement and the transfers whose answer is not known yet."""

from datetime import timedelta

from celery import shared_task
from django.utils import timezone

from kamen.tasks import OutageTolerantTask

from . import services
from .models import Withdrawal

# A transfer sent this long ago with no final answer is asked about.
QUERY_AFTER = timedelta(minutes=1)


@shared_task(base=OutageTolerantTask)
def settle_commissions_task() -> int:
    return services.settle_due_commissions()


@shared_task(base=OutageTolerantTask)
def sync_sending_withdrawals_task() -> int:
    sending = Withdrawal.objects.filter(state=Withdrawal.State.SENDING, sent_at__lte=timezone.now() - QUERY_AFTER)
    return sum(services.sync_sending_withdrawal(w).state != Withdrawal.State.SENDING for w in sending[:100])
