"""Staff alerts: low stock, an order that needs a person, a refund request waiting — by e-mail or to a
group robot (企业微信, DingTalk) or a Telegram bot, in their public HTTP formats.

`alert_staff` runs in the transaction of the event and writes one alert per subscribed channel, once
per event (`key`); a task sends it after commit, outside any transaction (promise 9), claims it first
so two runs never both send, and retries what failed under the shared back-off. A webhook address that
resolves to loopback or a private network is refused — on save and again when sending, since names
can change what they point at — unless staff allowed it for that channel.
"""

import base64
import hashlib
import hmac
import time
from urllib.parse import quote

import requests
from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone

from kamen.outbound import check_public_url
from kamen.tasks import enqueue

from . import inbox, sending
from .models import AlertChannel, StaffAlert

WEBHOOK_TIMEOUT = (3.05, 5)  # seconds to connect, to read


class AlertNotDelivered(OSError):
    """The channel did not take the alert (refused it, or answered nonsense); try again later.

    An OSError, so the tasks' outage policy retries it with back-off like any network error.
    """


def alert_staff(event: str, *, key: str, text: str) -> list[StaffAlert]:
    """Write the alert about `event` for every active channel that receives it, once per `key`."""
    alerts = []
    for channel in AlertChannel.objects.filter(is_active=True):
        if event not in channel.events:
            continue
        alert, created = StaffAlert.objects.get_or_create(
            channel=channel, key=key[:100], defaults={"event": event, "text": text[:2000]}
        )
        if created:
            transaction.on_commit(lambda pk=alert.pk: enqueue_alert(pk))
            alerts.append(alert)
    return alerts


def enqueue_alert(alert_id: int) -> None:
    from .tasks import send_staff_alert_task

    enqueue(send_staff_alert_task, alert_id)


def send_alert(alert_id: int) -> bool:
    """Send one alert, once: claim it, send, record. False when it is sent or someone else is sending."""
    if not sending.claim(StaffAlert.objects.filter(pk=alert_id, sent_at__isnull=True), claimed_field="claimed_at"):
        return False
    alert = StaffAlert.objects.select_related("channel").get(pk=alert_id)
    try:
        deliver(alert.channel, alert.text)
    except BaseException as error:
        StaffAlert.objects.filter(pk=alert_id).update(
            claimed_at=None, attempts=alert.attempts + 1, last_error=repr(error)[:300]
        )
        raise
    StaffAlert.objects.filter(pk=alert_id).update(sent_at=timezone.now(), attempts=alert.attempts + 1, last_error="")
    return True


def deliver(channel: AlertChannel, text: str) -> None:
    """Send `text` to `channel` in its own format; raises on anything but a clear success."""
    if channel.kind == AlertChannel.Kind.EMAIL:
        send_mail(inbox.mail_subject(text.splitlines()[0][:80]), text, None, [channel.target])
        return
    if channel.kind == AlertChannel.Kind.TELEGRAM:
        url = f"{settings.TELEGRAM_API_URL}/bot{channel.target}/sendMessage"
        answer = _post(url, {"chat_id": channel.secret, "text": text})
        if answer.get("ok") is not True:
            raise AlertNotDelivered(f"telegram: {answer.get('description', answer)}")
        return
    check_public_url(channel.target, allow_private=channel.allow_private_address)
    url = channel.target
    if channel.kind == AlertChannel.Kind.DINGTALK and channel.secret:
        url += ("&" if "?" in url else "?") + _dingtalk_signature(channel.secret)
    # 企业微信 and DingTalk robots take the same text message and answer errcode 0 when they take it.
    answer = _post(url, {"msgtype": "text", "text": {"content": text}})
    if answer.get("errcode") != 0:
        raise AlertNotDelivered(f"{channel.kind}: {answer.get('errmsg', answer)}")


def _post(url: str, payload: dict) -> dict:
    response = requests.post(url, json=payload, timeout=WEBHOOK_TIMEOUT, allow_redirects=False)
    try:
        return response.json()
    except ValueError:
        raise AlertNotDelivered(f"HTTP {response.status_code}, not JSON") from None


def _dingtalk_signature(secret: str) -> str:
    """DingTalk's 加签: HMAC-SHA256 of "timestamp\\nsecret" with the secret, base64, URL-encoded."""
    timestamp = str(round(time.time() * 1000))
    digest = hmac.new(secret.encode(), f"{timestamp}\n{secret}".encode(), hashlib.sha256).digest()
    return f"timestamp={timestamp}&sign={quote(base64.b64encode(digest).decode())}"


def sweep_unsent_alerts(*, limit: int = 200) -> list[int]:
    """Enqueue alerts still unsent a while after they were written (their task was lost or gave up)."""
    owed = sending.owed(StaffAlert.objects.filter(sent_at__isnull=True), limit=limit)
    for alert_id in owed:
        enqueue_alert(alert_id)
    return owed
