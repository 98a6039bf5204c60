"""The notify URLs take in bounded bodies, keep bounded records of what they refuse, and limit rejections per source.

Anyone can post there without signing in; gateways' real notifications are a few KB and verify.
"""

import json
from urllib.parse import urlencode

import pytest

from kamen.testing import factories, fake_wechat
from kamen.testing.factories import order_of
from orders.models import Order
from payments.models import Payment, PaymentNotification
from payments.providers import sandbox

SANDBOX_URL = "/payments/sandbox/notify/"
GATEWAY = "203.0.113.10"
STRANGER = "198.51.100.66"


@pytest.fixture(autouse=True)
def _sandbox_for_every_address(settings):
    """These notifications come from gateway addresses on the internet, not from this machine."""
    settings.SANDBOX_PAYMENTS_ENABLED = True
    settings.SANDBOX_PAYMENTS_LOOPBACK_ONLY = False


@pytest.fixture
def payment(sku):
    return factories.place_order(sku).payment


@pytest.fixture
def post(client, django_capture_on_commit_callbacks):
    """POST a form-encoded notification from an address, running what it enqueues on commit."""

    def send(body, *, source=GATEWAY, url=SANDBOX_URL):
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(
                url,
                data=body if isinstance(body, str) else urlencode(body),
                content_type="application/x-www-form-urlencoded",
                REMOTE_ADDR=source,
            )

    return send


def forged(payment, **extra) -> dict:
    params = sandbox.build_notification(payment)
    return {**params, "sign": "0" * 64, **extra}


class UnreadableBody:
    """A request body that fails the test if anything reads it."""

    def read(self, *args):
        raise AssertionError("the body was read")

    readline = read


# ---------------------------------------------------------------------------------------------------
# Size
# ---------------------------------------------------------------------------------------------------
def test_an_oversized_body_is_refused_before_it_is_read(client, payment, settings):
    response = client.post(
        SANDBOX_URL,
        content_type="application/x-www-form-urlencoded",
        REMOTE_ADDR=STRANGER,
        CONTENT_LENGTH=str(2 * 1024 * 1024),
        **{"wsgi.input": UnreadableBody()},
    )

    assert response.status_code == 413
    assert response.content == b"fail"
    record = PaymentNotification.objects.get()
    assert record.result == PaymentNotification.Result.REJECTED
    assert record.body == ""
    assert "2097152 bytes" in record.message
    assert Payment.objects.get(pk=payment.pk).state == Payment.State.PENDING


def test_a_body_at_the_limit_is_read_and_verified(post, payment, settings):
    settings.PAYMENT_NOTIFICATION_MAX_BYTES = 4096
    params = sandbox.build_notification(payment)
    body = urlencode(params)
    params["memo"] = "x" * (4096 - len(body) - len("&memo="))
    params["sign"] = sandbox.sign({k: v for k, v in params.items() if k != "sign"}, settings.SANDBOX_SIGNING_KEY)

    response = post(params)

    assert len(urlencode(params)) == 4096
    assert response.content == b"success"


# ---------------------------------------------------------------------------------------------------
# What is stored
# ---------------------------------------------------------------------------------------------------
def test_a_rejected_notification_keeps_only_a_bounded_prefix(post, payment):
    response = post(forged(payment, memo="x" * 20_000), source=STRANGER)

    assert response.status_code == 400 and response.content == b"fail"
    record = PaymentNotification.objects.get()
    assert record.result == PaymentNotification.Result.REJECTED
    assert record.message == "bad signature"
    assert len(record.body) == 2048
    assert record.body.startswith("trade_no=")


def test_rejected_headers_are_bounded_too(client, payment):
    many = {f"HTTP_X_FILLER_{n}": "y" * 4000 for n in range(100)}

    client.post(SANDBOX_URL, data=urlencode(forged(payment)), content_type="application/x-www-form-urlencoded", **many)

    headers = PaymentNotification.objects.get().headers
    assert len(headers) <= 40
    assert max(len(value) for value in headers.values()) <= 256


def test_a_valid_notification_is_stored_whole(post, payment, settings):
    params = sandbox.build_notification(payment)
    params["memo"] = "备注" * 1000
    params["sign"] = sandbox.sign({k: v for k, v in params.items() if k != "sign"}, settings.SANDBOX_SIGNING_KEY)

    response = post(params)

    assert response.content == b"success"
    record = PaymentNotification.objects.get()
    assert record.result == PaymentNotification.Result.CONFIRMED
    assert record.body == urlencode(params)


@pytest.mark.postgres
def test_a_nul_byte_in_a_notification_is_rejected_and_recorded(post, payment):
    response = post(urlencode(forged(payment)) + "&memo=a\x00b", source=STRANGER)

    assert response.status_code == 400 and response.content == b"fail"
    record = PaymentNotification.objects.get()
    assert record.result == PaymentNotification.Result.REJECTED
    assert record.body.endswith("&memo=a\ufffdb")
    assert Payment.objects.get(pk=payment.pk).state == Payment.State.PENDING


# ---------------------------------------------------------------------------------------------------
# Rejections per source
# ---------------------------------------------------------------------------------------------------
@pytest.fixture
def limit_of_three(settings):
    settings.PAYMENT_NOTIFICATION_REJECTED_RATE = "3/m"


def flood(post, payment, *, count: int, source=STRANGER):
    return [post(forged(payment), source=source) for _ in range(count)]


@pytest.mark.usefixtures("limit_of_three")
def test_rejections_past_the_limit_are_answered_but_not_stored(post, payment):
    responses = flood(post, payment, count=5)

    assert [r.status_code for r in responses] == [400, 400, 400, 429, 429]
    assert all(r.content == b"fail" for r in responses)
    assert PaymentNotification.objects.count() == 3


@pytest.mark.usefixtures("limit_of_three")
def test_a_valid_notification_after_a_flood_from_another_address_is_accepted(post, payment):
    flood(post, payment, count=10)

    response = post(sandbox.build_notification(payment), source=GATEWAY)

    assert response.content == b"success"
    assert order_of(payment).status == Order.Status.DELIVERED


@pytest.mark.usefixtures("limit_of_three")
def test_a_valid_notification_from_a_limited_address_is_still_accepted(post, payment):
    flood(post, payment, count=10, source=GATEWAY)  # e.g. forgeries behind the same proxy

    response = post(sandbox.build_notification(payment), source=GATEWAY)

    assert response.status_code == 200 and response.content == b"success"
    assert PaymentNotification.objects.filter(result=PaymentNotification.Result.CONFIRMED).count() == 1


@pytest.mark.usefixtures("limit_of_three")
def test_resent_valid_notifications_never_count_toward_the_limit(post, payment):
    genuine = sandbox.build_notification(payment)
    answers = [post(genuine, source=GATEWAY).content for _ in range(10)]

    rejected = post(forged(payment), source=GATEWAY)

    assert answers == [b"success"] * 10
    assert rejected.status_code == 400
    assert PaymentNotification.objects.filter(result=PaymentNotification.Result.REJECTED).count() == 1


@pytest.mark.usefixtures("limit_of_three", "wechat_enabled", "wechat_gateway")
def test_a_limited_source_is_answered_in_wechat_pays_failure_format(client, sku, wechat_sign, wechat_notification):
    payment = factories.place_order(sku, "wechat").payment
    forgery = wechat_sign(json.dumps({"event_type": "TRANSACTION.SUCCESS"}), key=fake_wechat.key_pair().key)
    for _ in range(3):
        client.post(
            fake_wechat.NOTIFY_URL,
            forgery.body,
            content_type="application/json",
            REMOTE_ADDR=STRANGER,
            **forgery.headers,
        )

    limited = client.post(
        fake_wechat.NOTIFY_URL, forgery.body, content_type="application/json", REMOTE_ADDR=STRANGER, **forgery.headers
    )
    genuine = wechat_notification(fake_wechat.transaction(payment))
    accepted = client.post(
        fake_wechat.NOTIFY_URL, genuine.body, content_type="application/json", REMOTE_ADDR=GATEWAY, **genuine.headers
    )

    assert limited.status_code == 429
    assert limited.json() == {"code": "FAIL", "message": "rejected"}
    assert accepted.status_code == 204
    assert PaymentNotification.objects.filter(result=PaymentNotification.Result.REJECTED).count() == 3


@pytest.mark.usefixtures("limit_of_three", "alipay_enabled")
def test_a_limited_source_is_answered_in_alipays_failure_format(post, sku, alipay_notification):
    payment = factories.place_order(sku, "alipay").payment
    forgery = {**alipay_notification(payment), "sign": "AAAA"}
    for _ in range(3):
        post(forgery, source=STRANGER, url="/payments/alipay/notify/")

    limited = post(forgery, source=STRANGER, url="/payments/alipay/notify/")
    accepted = post(alipay_notification(payment), source=GATEWAY, url="/payments/alipay/notify/")

    assert limited.status_code == 429 and limited.content == b"fail"
    assert accepted.content == b"success"


@pytest.mark.usefixtures("limit_of_three")
def test_a_signed_notification_that_does_not_match_is_kept_whole_and_never_counted(post, payment, settings):
    params = sandbox.build_notification(payment)
    params.update(total_amount="0.01", memo="m" * 3000)
    params["sign"] = sandbox.sign({k: v for k, v in params.items() if k != "sign"}, settings.SANDBOX_SIGNING_KEY)
    answers = [post(params, source=GATEWAY) for _ in range(5)]

    forgery = post(forged(payment), source=GATEWAY)

    assert [a.status_code for a in answers] == [400] * 5
    records = PaymentNotification.objects.filter(verified=True, result=PaymentNotification.Result.REJECTED)
    assert records.count() == 5
    assert all(record.body == urlencode(params) for record in records)
    assert forgery.status_code == 400  # the first counted rejection of this source, so stored
    assert PaymentNotification.objects.filter(verified=False).count() == 1
