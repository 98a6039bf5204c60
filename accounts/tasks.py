"""Thin tasks of accounts: a message's e-mail, and the sweeper for those a lost task left behind."""

from celery import shared_task

from kamen.tasks import TRANSIENT_ERRORS, OutageTolerantTask

from . import alerts, api_keys, inbox


@shared_task(base=OutageTolerantTask, bind=True)
def send_message_email_task(self, message_id: int, sent: bool = False) -> bool:
    """E-mail one message, once: the send is claimed first; once the mail server took it, only its
    record is retried (`sent=True`), never the send. Returns whether this run sent it."""
    if not sent:
        message = inbox.claim_email(message_id)
        if message is None:
            return False
        try:
            inbox.send_email(message)
        except BaseException:
            inbox.record_email(message_id, sent=False)
            raise
    try:
        inbox.record_email(message_id, sent=True)
    except TRANSIENT_ERRORS as error:
        raise self.retry_later(exc=error, kwargs={"message_id": message_id, "sent": True}) from error
    return not sent


@shared_task(base=OutageTolerantTask)
def sweep_unsent_message_emails_task() -> int:
    return len(inbox.sweep_unsent_emails())


@shared_task(base=OutageTolerantTask)
def send_staff_alert_task(alert_id: int) -> bool:
    return alerts.send_alert(alert_id)


@shared_task(base=OutageTolerantTask)
def sweep_unsent_staff_alerts_task() -> int:
    return len(alerts.sweep_unsent_alerts())


@shared_task(base=OutageTolerantTask)
def purge_api_nonces_task() -> int:
    return api_keys.purge_nonces()
