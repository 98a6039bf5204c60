"""WeChat Pay notifications: only genuine paid notifications confirm; forged, tampered, refunds.

Keys, signing, encryption and the fake gateway are in kamen/testing/fake_wechat.py: notifications
are signed and encrypted with `cryptography` exactly as WeChat Pay does, independently of the SDK.
"""

import json
import secrets
import time
from datetime import timedelta
from decimal import Decimal

import pytest
from django.test import RequestFactory
from django.utils import timezone

from catalog.models import CardCode
from kamen.testing import factories
from kamen.testing.factories import order_of
from kamen.testing.fake_wechat import (
    APPID,
    MCHID,
    NOTIFY_URL,
    Notification,
    certificate_pem,
    encrypt,
    fen,
    refund_resource,
    self_signed_certificate,
    transaction,
)
from kamen.testing.notifications import assert_rejected_and_unchanged
from orders import services as order_services
from orders.models import Order, OrderEvent
from payments.models import Payment, PaymentNotification, Refund
from payments.providers import get_provider
from payments.providers.base import (
    NotificationRejected,
    TradeStatus,
    VerifiedNotification,
    VerifiedRefundNotification,
)
from payments.providers.wechat_config import serial_hex

# Every test runs with the fake gateway: nothing can reach the network, and every call is recorded.
pytestmark = pytest.mark.usefixtures("wechat_enabled", "wechat_gateway")


@pytest.fixture
def payment(sku):
    return factories.place_order(sku, "wechat").payment


@pytest.fixture
def post(client, django_capture_on_commit_callbacks):
    def send(wechat_notification: Notification):
        with django_capture_on_commit_callbacks(execute=True):
            return wechat_notification.post(client)

    return send


def last_message() -> str:
    return PaymentNotification.objects.latest("id").message


def sold() -> int:
    return CardCode.objects.filter(status=CardCode.Status.SOLD).count()


# Genuine notifications


def test_a_genuine_notification_confirms_and_delivers(payment, wechat_notification, post, wechat_gateway):
    response = post(wechat_notification(transaction(payment)))

    assert response.status_code == 204
    assert response.content == b""
    assert order_of(payment).status == Order.Status.DELIVERED
    assert CardCode.objects.filter(order=order_of(payment), status=CardCode.Status.SOLD).count() == 2
    record = PaymentNotification.objects.get()
    assert record.verified and record.result == PaymentNotification.Result.CONFIRMED
    payment.refresh_from_db()
    assert payment.state == Payment.State.CONFIRMED
    assert payment.gateway_trade_no == f"4200002{payment.pk:021d}"
    assert wechat_gateway.calls == []


def test_a_resent_notification_is_a_duplicate_and_delivers_once(payment, wechat_notification, post):
    genuine = wechat_notification(transaction(payment))
    post(genuine)

    response = post(genuine)

    assert response.status_code == 204
    assert list(PaymentNotification.objects.order_by("id").values_list("result", flat=True)) == [
        "confirmed",
        "duplicate",
    ]
    assert OrderEvent.objects.filter(order=order_of(payment), type="delivered").count() == 1
    assert sold() == 2


def test_a_notification_for_an_expired_order_is_a_late_payment_and_delivers(payment, wechat_notification, post):
    Order.objects.filter(payment_links__payment=payment).update(expires_at=timezone.now() - timedelta(minutes=1))
    assert order_services.expire_unpaid_orders() == 1

    post(wechat_notification(transaction(payment)))

    order = order_of(payment)
    assert order.status == Order.Status.DELIVERED
    assert OrderEvent.objects.filter(order=order, type="paid_late").exists()
    assert CardCode.objects.filter(order=order, status=CardCode.Status.SOLD).count() == 2


def test_a_late_payment_without_stock_left_waits_for_staff(payment, wechat_notification, post):
    Order.objects.filter(payment_links__payment=payment).update(expires_at=timezone.now() - timedelta(minutes=1))
    order_services.expire_unpaid_orders()
    CardCode.objects.filter(status=CardCode.Status.AVAILABLE).update(status=CardCode.Status.VOID)

    response = post(wechat_notification(transaction(payment)))

    assert response.status_code == 204  # the money was taken: recorded, never dropped
    assert Payment.objects.get(pk=payment.pk).state == Payment.State.CONFIRMED
    assert order_of(payment).status == Order.Status.DELIVERY_FAILED


def test_a_genuine_notification_for_one_order_pays_only_that_order(sku, payment, wechat_notification, post):
    other = factories.place_order(sku, "wechat", email="b@example.com").payment  # same amount, still pending

    post(wechat_notification(transaction(payment)))

    assert Payment.objects.get(pk=payment.pk).state == Payment.State.CONFIRMED
    other.refresh_from_db()
    assert other.state == Payment.State.PENDING
    assert order_of(other).status == Order.Status.PENDING_PAYMENT


def test_a_notification_moved_onto_another_order_fails_its_signature(sku, payment, wechat_notification, post):
    other = factories.place_order(sku, "wechat", email="b@example.com").payment
    genuine = wechat_notification(transaction(payment))
    # Even knowing the APIv3 key, a forger cannot re-sign: A's signature over B's trade number.
    forged = wechat_notification(transaction(payment, out_trade_no=other.trade_no))
    forged.headers = genuine.headers

    response = post(forged)

    assert response.status_code == 400
    assert_rejected_and_unchanged(other)
    assert "bad signature" in last_message()
    assert Payment.objects.get(pk=payment.pk).state == Payment.State.PENDING


# Forged, tampered and unacceptable notifications


def test_a_tampered_amount_fails_the_signature(payment, wechat_notification, wechat_apiv3_key, post):
    genuine = wechat_notification(transaction(payment))
    envelope = json.loads(genuine.body)
    envelope["resource"] = encrypt(transaction(payment, amount={"total": 1, "currency": "CNY"}), wechat_apiv3_key)
    tampered = Notification(json.dumps(envelope, ensure_ascii=False), genuine.headers)

    response = post(tampered)

    assert response.status_code == 400
    assert json.loads(response.content) == {"code": "FAIL", "message": "rejected"}
    assert_rejected_and_unchanged(payment)
    assert "bad signature" in last_message()


def test_a_correctly_signed_wrong_amount_is_rejected(payment, wechat_notification, post):
    resource = transaction(payment, amount={"total": fen(payment) - 1, "currency": "CNY"})

    post(wechat_notification(resource))

    assert_rejected_and_unchanged(payment)
    assert "amount" in last_message()


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"mchid": "1900000999"}, "mchid"),
        ({"appid": "wx0000000000000999"}, "appid"),
        ({"trade_state": "NOTPAY"}, "trade state"),
        ({"trade_state": "REFUND"}, "trade state"),
        ({"amount": {"total": "2000", "currency": "CNY"}}, "malformed amount"),
        ({"amount": {"total": 2000.0, "currency": "CNY"}}, "malformed amount"),
        ({"amount": {"total": True, "currency": "CNY"}}, "malformed amount"),
        ({"amount": {"total": [2000], "currency": "CNY"}}, "malformed amount"),
        ({"amount": {"total": 0, "currency": "CNY"}}, "malformed amount"),
        ({"amount": {"total": 2000, "currency": "USD"}}, "malformed amount"),
        ({"amount": 2000}, "malformed amount"),
        ({"out_trade_no": ""}, "out_trade_no"),
        ({"out_trade_no": 12345}, "out_trade_no"),
        ({"transaction_id": ""}, "transaction_id"),
    ],
)
def test_validly_signed_but_unacceptable_notifications_change_nothing(
    payment, wechat_notification, post, overrides, reason
):
    post(wechat_notification(transaction(payment, **overrides)))

    assert_rejected_and_unchanged(payment)
    assert reason in last_message()


def test_the_amount_as_a_string_is_rejected(sku, wechat_notification, post):
    payment = factories.place_order(sku, "wechat", quantity=1).payment
    assert fen(payment) == 1000

    post(wechat_notification(transaction(payment, amount={"total": "1000", "currency": "CNY"})))

    assert_rejected_and_unchanged(payment)
    assert last_message() == "malformed amount"


def test_a_repeated_key_in_the_body_is_rejected(payment, wechat_notification, wechat_sign, post):
    genuine = json.loads(wechat_notification(transaction(payment)).body)
    body = json.dumps(genuine, ensure_ascii=False)[:-1] + ', "event_type": "TRANSACTION.SUCCESS"}'

    post(wechat_sign(body))

    assert_rejected_and_unchanged(payment)
    assert last_message() == "repeated key 'event_type' in body"


def test_a_repeated_key_in_the_resource_is_rejected(payment, wechat_notification, post):
    plain = json.dumps(transaction(payment), ensure_ascii=False)[:-1] + ', "out_trade_no": "P0"}'

    post(wechat_notification(plain))

    assert_rejected_and_unchanged(payment)
    assert last_message() == "repeated key 'out_trade_no' in resource"


@pytest.mark.parametrize("body", ["[1, 2]", "not json", '"a string"'])
def test_a_body_that_is_not_a_json_object_is_rejected(payment, wechat_sign, post, body):
    post(wechat_sign(body))

    assert_rejected_and_unchanged(payment)
    assert "JSON" in last_message()


@pytest.mark.parametrize("signature", [None, "", "   "])
def test_a_missing_or_empty_signature_is_rejected(payment, wechat_notification, post, signature):
    genuine = wechat_notification(transaction(payment))
    del genuine.headers["HTTP_WECHATPAY_SIGNATURE"]
    if signature is not None:
        genuine.headers["HTTP_WECHATPAY_SIGNATURE"] = signature

    post(genuine)

    assert_rejected_and_unchanged(payment)
    assert last_message() == "missing signature"


@pytest.mark.parametrize(
    ("offset", "reason"),
    [(-6 * 60, "stale notification"), (+2 * 60, "timestamp in the future")],
)
def test_a_stale_or_future_timestamp_is_rejected(payment, wechat_notification, post, offset, reason):
    # Correctly signed over its own timestamp: only the age gives it away.
    post(wechat_notification(transaction(payment), timestamp=str(int(time.time()) + offset)))

    assert_rejected_and_unchanged(payment)
    assert last_message() == reason


@pytest.mark.parametrize("timestamp", ["", "12a", "-1700000000", "1e9", "１７００００００００"])
def test_a_malformed_timestamp_is_rejected(payment, wechat_notification, post, timestamp):
    post(wechat_notification(transaction(payment), timestamp=timestamp))

    assert_rejected_and_unchanged(payment)
    assert last_message() == "malformed timestamp"


def test_a_signature_made_with_another_key_is_rejected(payment, wechat_notification, post, wechat_stranger_key):
    post(wechat_notification(transaction(payment), key=wechat_stranger_key.key))

    assert_rejected_and_unchanged(payment)
    assert "bad signature" in last_message()


def test_garbage_in_the_signature_is_rejected(payment, wechat_notification, post):
    genuine = wechat_notification(transaction(payment))
    genuine.headers["HTTP_WECHATPAY_SIGNATURE"] = "not base64 at all!"

    post(genuine)

    assert_rejected_and_unchanged(payment)
    assert "bad signature" in last_message()


def test_a_resource_encrypted_with_another_apiv3_key_is_rejected(payment, wechat_notification, post):
    post(wechat_notification(transaction(payment), key_for_resource=secrets.token_hex(16)))

    assert_rejected_and_unchanged(payment)
    assert "undecryptable" in last_message()


def test_another_signature_type_is_rejected(payment, wechat_notification, post):
    post(wechat_notification(transaction(payment), HTTP_WECHATPAY_SIGNATURE_TYPE="WECHATPAY2-SM2-WITH-SM3"))

    assert_rejected_and_unchanged(payment)
    assert "signature type" in last_message()


def test_an_unknown_serial_is_rejected_without_calling_out(payment, wechat_notification, post, wechat_gateway):
    post(wechat_notification(transaction(payment), serial="PUB_KEY_ID_0119000001092099999999999999999999"))

    assert_rejected_and_unchanged(payment)
    assert last_message() == "unknown Wechatpay-Serial"
    assert wechat_gateway.calls == []


@pytest.mark.parametrize(
    "name", ["WECHATPAY_PUBLIC_KEY", "WECHATPAY_PUBLIC_KEY_ID", "WECHATPAY_APIV3_KEY", "WECHATPAY_MCHID"]
)
def test_an_empty_configured_key_or_id_never_verifies(payment, wechat_notification, post, settings, name):
    genuine = wechat_notification(transaction(payment))
    setattr(settings, name, "")

    post(genuine)

    assert_rejected_and_unchanged(payment)
    assert "not configured" in last_message()


def test_an_unknown_event_type_is_rejected(payment, wechat_notification, post):
    post(wechat_notification(transaction(payment), event="TRANSACTION.CLOSED"))

    assert_rejected_and_unchanged(payment)
    assert "event type" in last_message()


# Certificate mode


def test_certificate_mode_verifies_with_the_certificate_on_disk(
    wechat_cert_mode, payment, wechat_notification, post, wechat_gateway
):
    response = post(wechat_notification(transaction(payment), serial=wechat_cert_mode))

    assert response.status_code == 204
    assert order_of(payment).status == Order.Status.DELIVERED
    assert wechat_gateway.calls == []


def test_certificate_mode_accepts_the_serial_in_any_case(wechat_cert_mode, payment, wechat_notification, post):
    post(wechat_notification(transaction(payment), serial=wechat_cert_mode.lower()))

    assert Payment.objects.get(pk=payment.pk).state == Payment.State.CONFIRMED


@pytest.mark.parametrize("serial", ["7A1B2C3D4E5F60718293A4B5C6D7E8F901234567", "NOT-HEX", ""])
def test_certificate_mode_rejects_an_unknown_serial_without_calling_out(
    wechat_cert_mode, payment, wechat_notification, post, wechat_gateway, serial
):
    # The SDK would download certificates for a serial it does not know; the request never gets there.
    post(wechat_notification(transaction(payment), serial=serial))

    assert_rejected_and_unchanged(payment)
    assert last_message() == "unknown Wechatpay-Serial"
    assert wechat_gateway.calls == []


def test_certificate_mode_ignores_an_expired_certificate(
    settings, tmp_path, wechat_key, payment, wechat_notification, post, wechat_gateway
):
    expired = self_signed_certificate(wechat_key.key, days=30, start_days_ago=60)
    serial = serial_hex(expired.serial_number)
    (tmp_path / f"{serial}.pem").write_text(certificate_pem(expired))
    settings.WECHATPAY_PUBLIC_KEY = settings.WECHATPAY_PUBLIC_KEY_ID = ""
    settings.WECHATPAY_CERT_DIR = str(tmp_path)

    post(wechat_notification(transaction(payment), serial=serial))

    assert_rejected_and_unchanged(payment)
    assert last_message() == "unknown Wechatpay-Serial"
    assert wechat_gateway.calls == []


def test_certificate_mode_queries_verify_answers_with_the_certificate(wechat_cert_mode, payment, wechat_gateway):
    wechat_gateway.serial = wechat_cert_mode
    wechat_gateway.answer(
        200, {"mchid": MCHID, "appid": APPID, "out_trade_no": payment.trade_no, "trade_state": "NOTPAY"}
    )

    assert get_provider("wechat").query(payment) == TradeStatus(state="waiting")
    assert "Wechatpay-Serial" not in wechat_gateway.calls[0].headers  # only public-key mode names a key to WeChat Pay


def parse(signed: Notification):
    request = RequestFactory().post(NOTIFY_URL, data=signed.body, content_type="application/json", **signed.headers)
    return get_provider("wechat").parse_notification(request)


def test_a_verified_notification_names_the_payer(payment, wechat_notification):
    verified = parse(wechat_notification(transaction(payment)))

    assert verified == VerifiedNotification(
        trade_no=payment.trade_no,
        amount=Decimal("20.00"),
        gateway_trade_no=f"4200002{payment.pk:021d}",
        payer="oUpF8uMuAJO_M2pxb1Q9zNjWeS6o",
    )


@pytest.mark.parametrize("payer", [{}, {"openid": 42}, "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o", None], ids=repr)
def test_a_missing_or_malformed_payer_is_no_payer_and_no_refusal(payment, wechat_notification, payer):
    assert parse(wechat_notification(transaction(payment, payer=payer))).payer == ""


# Refund notifications


def test_a_refund_notification_never_confirms_a_payment(payment, wechat_notification, post):
    response = post(wechat_notification(refund_resource(payment, "R2026010100000000000000001"), event="REFUND.SUCCESS"))

    assert response.status_code == 204  # understood; nothing of ours to change
    record = PaymentNotification.objects.get()
    assert record.result == PaymentNotification.Result.REFUND
    payment.refresh_from_db()
    assert payment.state == Payment.State.PENDING
    assert order_of(payment).status == Order.Status.PENDING_PAYMENT
    assert sold() == 0


def test_a_refund_notification_completes_a_processing_refund(payment, wechat_notification, post):
    post(wechat_notification(transaction(payment)))
    refund = Refund.objects.create(payment=payment, amount=payment.amount, state=Refund.State.PROCESSING)

    post(wechat_notification(refund_resource(payment, refund.refund_no), event="REFUND.SUCCESS"))

    refund.refresh_from_db()
    assert refund.state == Refund.State.SUCCEEDED
    assert refund.gateway_refund_id == f"50000{payment.pk:024d}"
    assert Payment.objects.get(pk=payment.pk).state == Payment.State.CONFIRMED


@pytest.mark.parametrize(
    ("event", "status", "succeeded"),
    [("REFUND.ABNORMAL", "ABNORMAL", False), ("REFUND.CLOSED", "CLOSED", False), ("REFUND.SUCCESS", "SUCCESS", True)],
)
def test_refund_notifications_are_parsed_as_refunds(payment, wechat_notification, event, status, succeeded):
    signed = wechat_notification(refund_resource(payment, "R1", status), event=event)
    request = RequestFactory().post(NOTIFY_URL, data=signed.body, content_type="application/json", **signed.headers)

    verified = get_provider("wechat").parse_notification(request)

    assert verified == VerifiedRefundNotification(
        trade_no=payment.trade_no,
        refund_no="R1",
        succeeded=succeeded,
        gateway_refund_id=f"50000{payment.pk:024d}",
        message=status,
    )


def test_a_refund_notification_for_another_merchant_is_rejected(payment, wechat_notification):
    resource = {**refund_resource(payment, "R1"), "mchid": "1900000999"}
    signed = wechat_notification(resource, event="REFUND.SUCCESS")
    request = RequestFactory().post(NOTIFY_URL, data=signed.body, content_type="application/json", **signed.headers)

    with pytest.raises(NotificationRejected, match="mchid"):
        get_provider("wechat").parse_notification(request)


# Answers to WeChat Pay


def test_notification_responses_are_204_or_a_json_failure():
    provider = get_provider("wechat")

    accepted = provider.notification_response(accepted=True)
    refused = provider.notification_response(accepted=False, message="amount 1.00 != 20.00 for P123")

    assert accepted.status_code == 204 and accepted.content == b""
    assert refused.status_code == 400
    assert refused["Content-Type"] == "application/json"
    assert json.loads(refused.content) == {"code": "FAIL", "message": "rejected"}
