"""Staff alerts: low stock, an order that needs staff, a refund request — by e-mail and to 企业微信,
DingTalk and Telegram robots (faked on loopback) in their own formats, once per event and channel,
retried when refused, and never to a private address unless staff allowed it."""

import base64
import hashlib
import hmac

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from accounts import alerts
from accounts.models import AlertChannel, StaffAlert
from accounts.tasks import send_staff_alert_task
from kamen.testing import factories
from kamen.testing.robots import serve_robots
from orders import services as order_services

ALL_EVENTS = list(AlertChannel.Event.values)


@pytest.fixture
def robots(settings):
    robots, server = serve_robots()
    settings.TELEGRAM_API_URL = robots.url + "/telegram"
    yield robots
    server.shutdown()


def channel(kind, target, **fields) -> AlertChannel:
    fields.setdefault("allow_private_address", True)  # the fakes listen on loopback
    fields.setdefault("events", ALL_EVENTS)
    return AlertChannel.objects.create(name=kind, kind=kind, target=target, **fields)


def test_an_order_for_staff_reaches_every_robot_in_its_own_format(db, robots, paid_order, mailoutbox):
    channel("wecom", robots.url + "/cgi-bin/webhook/send?key=abc")
    channel("dingtalk", robots.url + "/robot/send?access_token=t", secret="SECdingtalk")
    channel("telegram", "123:bot-token", secret="-1001")
    channel("email", "ops@example.com", allow_private_address=False)
    manual = factories.SkuFactory(delivery_kind="manual", product__title="原神代充")

    order = paid_order(manual, quantity=1)

    by_path = {path: (query, body) for path, query, body in robots.received}
    wecom = by_path["/cgi-bin/webhook/send"][1]
    assert wecom["msgtype"] == "text" and "等待人工发货" in wecom["text"]["content"]
    assert order.number in wecom["text"]["content"]
    query, dingtalk = by_path["/robot/send"]
    expected = base64.b64encode(
        hmac.new(b"SECdingtalk", f"{query['timestamp'][0]}\nSECdingtalk".encode(), hashlib.sha256).digest()
    ).decode()
    assert query["sign"] == [expected] and dingtalk["text"]["content"] == wecom["text"]["content"]
    telegram = by_path["/telegram/bot123:bot-token/sendMessage"][1]
    assert telegram == {"chat_id": "-1001", "text": wecom["text"]["content"]}
    staff_mail = [m for m in mailoutbox if m.to == ["ops@example.com"]]
    assert len(staff_mail) == 1 and order.number in staff_mail[0].body
    assert StaffAlert.objects.filter(sent_at__isnull=False).count() == 4


def test_an_alert_is_written_once_per_event_and_sent_once_however_often_its_task_runs(db, robots):
    wecom = channel("wecom", robots.url + "/hook", events=["refund_requested"])

    first = alerts.alert_staff("refund_requested", key="refund:R1", text="退款申请")
    alerts.alert_staff("refund_requested", key="refund:R1", text="退款申请")
    alerts.alert_staff("low_stock", key="low:1", text="库存不足")  # not an event this channel receives

    assert [alert.channel for alert in first] == [wecom] and StaffAlert.objects.count() == 1
    assert send_staff_alert_task.delay(first[0].pk).get() is True
    assert send_staff_alert_task.delay(first[0].pk).get() is False
    assert len(robots.received) == 1


def test_a_refused_alert_is_kept_and_sent_when_the_robot_takes_it(db, robots):
    channel("dingtalk", robots.url + "/robot/send")
    alert = alerts.alert_staff("low_stock", key="low:1", text="库存不足")[0]
    robots.refuse = True

    with pytest.raises(alerts.AlertNotDelivered, match="keywords not in content"):
        alerts.send_alert(alert.pk)
    alert.refresh_from_db()
    assert alert.sent_at is None and alert.attempts == 1 and "keywords" in alert.last_error

    robots.refuse = False
    assert alerts.send_alert(alert.pk) is True
    assert StaffAlert.objects.get(pk=alert.pk).attempts == 2


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/hook",
        "http://localhost/hook",
        "http://10.0.0.8/hook",
        "http://[::1]/hook",
        "http://169.254.169.254/",
    ],
)
def test_a_webhook_into_a_private_network_is_refused_unless_allowed(db, url):
    robot = AlertChannel(name="x", kind="wecom", target=url, events=["low_stock"])

    with pytest.raises(ValidationError, match="指向内网"):
        robot.full_clean()
    robot.allow_private_address = True
    robot.full_clean()


def test_a_webhook_that_became_private_is_not_called(db, robots):
    channel("wecom", robots.url + "/hook", allow_private_address=False)  # saved before its name pointed here
    alert = alerts.alert_staff("low_stock", key="low:1", text="库存不足")[0]

    with pytest.raises(ValidationError):
        alerts.send_alert(alert.pk)

    assert robots.received == [] and StaffAlert.objects.get(pk=alert.pk).sent_at is None


def test_low_stock_alerts_once_a_day_when_a_spec_reaches_its_threshold(db, robots, django_capture_on_commit_callbacks):
    channel("wecom", robots.url + "/hook", events=["low_stock"])
    sku = factories.SkuFactory(price="10.00", low_stock_at=2)
    factories.stock(sku, 5)

    with django_capture_on_commit_callbacks(execute=True):
        for _ in range(4):
            factories.place_order(sku, quantity=1)

    assert len(robots.received) == 1
    text = robots.received[0][2]["text"]["content"]
    assert "库存不足" in text and "仅剩 2 个卡密" in text


def test_a_refund_request_alerts_staff(db, robots, sku, paid_order, django_capture_on_commit_callbacks):
    channel("telegram", "bot", secret="42", events=["refund_requested"])
    order = paid_order(sku, quantity=1)

    with django_capture_on_commit_callbacks(execute=True):
        order_services.request_refund(order, user=None, reason="卡密无效")

    text = robots.received[0][2]["text"]
    assert "退款申请" in text and "卡密无效" in text and order.number in text


def test_staff_send_a_test_alert_from_admin(client, staff, robots):
    robot = channel("wecom", robots.url + "/hook")
    client.force_login(staff)

    client.post(
        reverse("admin:accounts_alertchannel_changelist"),
        {"action": "send_test_alert", "_selected_action": [robot.pk]},
    )

    assert len(robots.received) == 1 and "测试" in robots.received[0][2]["text"]["content"]
