"""WeChat Pay APIv3: QR codes and H5 out, only genuine paid notifications in, queries, closes, refunds.

The merchant key, WeChat Pay's key and the APIv3 key are generated here; notifications are signed and
encrypted with `cryptography` exactly as WeChat Pay does, so our verification is checked
independently of the SDK. No network: the SDK's `requests` is replaced by a fake gateway whose
answers are signed with the generated WeChat Pay key, and which records every call.
"""

import base64
import json
import secrets
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from io import StringIO
from types import SimpleNamespace
from urllib.parse import quote

import pytest
import requests
import wechatpayv3.core
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.x509.oid import NameOID
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.test import Client, RequestFactory
from django.utils import timezone
from djmoney.money import Money
from requests.structures import CaseInsensitiveDict

from catalog.models import CardCode
from kamen.testing import factories
from kamen.testing.notifications import assert_rejected_and_unchanged
from kamen.testing.threads import run_together
from orders import services as order_services
from orders.models import Order, OrderEvent
from payments import services as payment_services
from payments.models import Payment, PaymentNotification, Refund
from payments.providers import get_provider
from payments.providers.base import (
    GatewayError,
    NotificationRejected,
    RefundResult,
    TradeStatus,
    VerifiedRefundNotification,
)
from payments.providers.wechat import serial_hex

NOTIFY_URL = "/payments/wechat/notify/"
MCHID = "1900000109"
APPID = "wxd678efh567hg6787"
MERCHANT_SERIAL = "5157F09EFDC096DE15EBE81A47057A7232F1B8E1"
PUBLIC_KEY_ID = "PUB_KEY_ID_0119000001092025010100000000000001"
PC_UA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/124.0 Safari/537.36"
IPHONE_UA = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148"
CODE_URL = "weixin://wxpay/bizpayurl?pr=aIQrOYOzz"
H5_URL = "https://wx.tenpay.com/cgi-bin/mmpayweb-bin/checkmweb?prepay_id=wx2016121516420242444321ca0631331346&package=1405458241"


# Keys


@dataclass(frozen=True)
class KeyPair:
    key: rsa.RSAPrivateKey
    private_pem: str
    public_pem: str


def key_pair(private_format=serialization.PrivateFormat.PKCS8) -> KeyPair:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private_pem = key.private_bytes(serialization.Encoding.PEM, private_format, serialization.NoEncryption())
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return KeyPair(key, private_pem.decode(), public_pem.decode())


@pytest.fixture(scope="module")
def merchant_key() -> KeyPair:
    return key_pair()


@pytest.fixture(scope="module")
def wechat_key() -> KeyPair:
    """WeChat Pay's own key: signs notifications and answers."""
    return key_pair()


@pytest.fixture(scope="module")
def stranger_key() -> KeyPair:
    """Anyone else's key: what a forger signs with."""
    return key_pair()


@pytest.fixture(scope="module")
def apiv3_key() -> str:
    return secrets.token_hex(16)  # 32 bytes, as the merchant platform issues it


def rsa_sign(key: rsa.RSAPrivateKey, message: str) -> str:
    return base64.b64encode(key.sign(message.encode(), padding.PKCS1v15(), hashes.SHA256())).decode()


def self_signed_certificate(key: rsa.RSAPrivateKey, *, days: int = 365, start_days_ago: int = 1) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Tenpay.com Root CA")])
    start = datetime.now(UTC) - timedelta(days=start_days_ago)
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + timedelta(days=days))
        .sign(key, hashes.SHA256())
    )


def certificate_pem(certificate: x509.Certificate) -> str:
    return certificate.public_bytes(serialization.Encoding.PEM).decode()


# Settings


@pytest.fixture(autouse=True)
def wechat_settings(settings, merchant_key, wechat_key, apiv3_key):
    settings.WECHATPAY_ENABLED = True
    settings.WECHATPAY_MCHID = MCHID
    settings.WECHATPAY_APPID = APPID
    settings.WECHATPAY_APIV3_KEY = apiv3_key
    settings.WECHATPAY_CERT_SERIAL_NO = MERCHANT_SERIAL
    settings.WECHATPAY_PRIVATE_KEY = merchant_key.private_pem
    settings.WECHATPAY_PUBLIC_KEY = wechat_key.public_pem
    settings.WECHATPAY_PUBLIC_KEY_ID = PUBLIC_KEY_ID
    settings.WECHATPAY_CERT_DIR = ""
    settings.WECHATPAY_H5_ENABLED = False
    settings.PAYMENT_PROVIDERS = [*settings.PAYMENT_PROVIDERS, "payments.providers.wechat.WeChatPayProvider"]
    return settings


@pytest.fixture
def cert_mode(settings, wechat_key, tmp_path):
    """Certificate mode: WeChat Pay's key in a self-signed "platform certificate" on disk."""
    certificate = self_signed_certificate(wechat_key.key)
    serial = serial_hex(certificate.serial_number)
    (tmp_path / f"{serial}.pem").write_text(certificate_pem(certificate))
    settings.WECHATPAY_PUBLIC_KEY = ""
    settings.WECHATPAY_PUBLIC_KEY_ID = ""
    settings.WECHATPAY_CERT_DIR = str(tmp_path)
    return serial


# The fake gateway at the SDK's HTTP layer


@dataclass
class Call:
    method: str
    url: str
    headers: dict
    json: dict | None

    @property
    def path(self) -> str:
        return self.url.removeprefix("https://api.mch.weixin.qq.com")


@dataclass
class FakeGateway:
    """api.mch.weixin.qq.com as the SDK sees it: queued answers, signed like WeChat Pay's, and a call log."""

    signing_key: rsa.RSAPrivateKey
    stranger_key: rsa.RSAPrivateKey
    serial: str
    calls: list[Call] = field(default_factory=list)
    answers: list[tuple[int, object, dict]] = field(default_factory=list)

    def answer(self, status: int, body: object = None, **options) -> None:
        """Queue an answer; `raises` an exception instead, `forged` signs with a stranger's key."""
        self.answers.append((status, body, options))

    def get(self, url, headers=None, **kwargs):
        return self._respond(Call("GET", url, headers or {}, None))

    def post(self, url, json=None, data=None, headers=None, **kwargs):
        return self._respond(Call("POST", url, headers or {}, json))

    def _respond(self, call: Call):
        self.calls.append(call)
        assert self.answers, f"unexpected call to WeChat Pay: {call.method} {call.path}"
        status, body, options = self.answers.pop(0)
        if "raises" in options:
            raise options["raises"]
        text = "" if body is None else json.dumps(body, ensure_ascii=False)
        timestamp, nonce = str(int(time.time())), secrets.token_hex(16)
        key = self.stranger_key if options.get("forged") else self.signing_key
        headers = CaseInsensitiveDict(
            {
                "Request-ID": str(uuid.uuid4()),
                "Wechatpay-Timestamp": timestamp,
                "Wechatpay-Nonce": nonce,
                "Wechatpay-Serial": self.serial,
                "Wechatpay-Signature": rsa_sign(key, f"{timestamp}\n{nonce}\n{text}\n"),
                "Wechatpay-Signature-Type": "WECHATPAY2-SHA256-RSA2048",
            }
        )
        if text:
            headers["Content-Type"] = "application/json; charset=utf-8"
        return SimpleNamespace(status_code=status, text=text, content=text.encode(), headers=headers)


@pytest.fixture(autouse=True)
def gateway(monkeypatch, wechat_key, stranger_key) -> FakeGateway:
    """Every test runs with the fake: nothing can reach the network, and every call is recorded."""
    fake = FakeGateway(signing_key=wechat_key.key, stranger_key=stranger_key.key, serial=PUBLIC_KEY_ID)
    monkeypatch.setattr(wechatpayv3.core, "requests", SimpleNamespace(get=fake.get, post=fake.post))
    return fake


# Orders and notifications


def place(sku, email="a@example.com", quantity=2) -> Payment:
    return order_services.place_order(
        sku, quantity=quantity, user=None, contact_email=email, lookup_password="abcd", payment_method="wechat"
    )


@pytest.fixture
def payment(sku):
    return place(sku)


def fen(payment: Payment) -> int:
    return int(payment.amount.amount * 100)


def encrypt(plain: dict | str, apiv3_key: str, associated_data: str = "transaction") -> dict:
    text = plain if isinstance(plain, str) else json.dumps(plain, ensure_ascii=False)
    nonce = secrets.token_hex(6)  # 12 characters, as WeChat Pay sends
    ciphertext = AESGCM(apiv3_key.encode()).encrypt(nonce.encode(), text.encode(), associated_data.encode())
    return {
        "algorithm": "AEAD_AES_256_GCM",
        "ciphertext": base64.b64encode(ciphertext).decode(),
        "nonce": nonce,
        "associated_data": associated_data,
        "original_type": associated_data,
    }


def transaction(payment: Payment, **overrides) -> dict:
    total = fen(payment)
    return {
        "mchid": MCHID,
        "appid": APPID,
        "out_trade_no": payment.trade_no,
        "transaction_id": f"4200002{payment.pk:021d}",
        "trade_type": "NATIVE",
        "trade_state": "SUCCESS",
        "trade_state_desc": "支付成功",
        "bank_type": "OTHERS",
        "attach": "",
        "success_time": "2026-01-01T12:00:05+08:00",
        "payer": {"openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"},
        "amount": {"total": total, "payer_total": total, "currency": "CNY", "payer_currency": "CNY"},
        **overrides,
    }


def refund_resource(payment: Payment, refund_no: str, status: str = "SUCCESS") -> dict:
    total = fen(payment)
    return {
        "mchid": MCHID,
        "transaction_id": f"4200002{payment.pk:021d}",
        "out_trade_no": payment.trade_no,
        "refund_id": f"50000{payment.pk:024d}",
        "out_refund_no": refund_no,
        "refund_status": status,
        "success_time": "2026-01-02T10:00:00+08:00",
        "user_received_account": "支付用户零钱",
        "amount": {"total": total, "refund": total, "payer_total": total, "payer_refund": total},
    }


@dataclass
class Notification:
    body: str
    headers: dict

    def post(self, client: Client):
        return client.post(NOTIFY_URL, data=self.body, content_type="application/json", **self.headers)


def signed_headers(body: str, key: rsa.RSAPrivateKey, *, serial=PUBLIC_KEY_ID, timestamp=None, **overrides) -> dict:
    timestamp = str(int(time.time())) if timestamp is None else timestamp
    nonce = secrets.token_hex(16).upper()
    headers = {
        "HTTP_WECHATPAY_SIGNATURE": rsa_sign(key, f"{timestamp}\n{nonce}\n{body}\n"),
        "HTTP_WECHATPAY_TIMESTAMP": timestamp,
        "HTTP_WECHATPAY_NONCE": nonce,
        "HTTP_WECHATPAY_SERIAL": serial,
        "HTTP_WECHATPAY_SIGNATURE_TYPE": "WECHATPAY2-SHA256-RSA2048",
    }
    return {**headers, **overrides}


@pytest.fixture
def sign(wechat_key):
    """Sign a raw body as WeChat Pay does (keyword options as in signed_headers)."""

    def build(body: str, **options) -> Notification:
        return Notification(body, signed_headers(body, options.pop("key", wechat_key.key), **options))

    return build


@pytest.fixture
def notification(sign, apiv3_key):
    """A genuine notification: `resource` (plain dict or str) encrypted with the APIv3 key, then signed."""

    def build(resource: dict | str, *, event="TRANSACTION.SUCCESS", key_for_resource=None, **options):
        associated_data = "refund" if event.startswith("REFUND.") else "transaction"
        envelope = {
            "id": str(uuid.uuid4()),
            "create_time": "2026-01-01T12:00:06+08:00",
            "resource_type": "encrypt-resource",
            "event_type": event,
            "summary": "支付成功",
            "resource": encrypt(resource, key_for_resource or apiv3_key, associated_data),
        }
        return sign(json.dumps(envelope, ensure_ascii=False), **options)

    return build


@pytest.fixture
def post(client, django_capture_on_commit_callbacks):
    def send(notification: Notification):
        with django_capture_on_commit_callbacks(execute=True):
            return notification.post(client)

    return send


def last_message() -> str:
    return PaymentNotification.objects.latest("id").message


def sold() -> int:
    return CardCode.objects.filter(status=CardCode.Status.SOLD).count()


# Genuine notifications


def test_a_genuine_notification_confirms_and_delivers(payment, notification, post, gateway):
    response = post(notification(transaction(payment)))

    assert response.status_code == 204
    assert response.content == b""
    assert Order.objects.get(pk=payment.order_id).status == Order.Status.DELIVERED
    assert CardCode.objects.filter(order=payment.order, status=CardCode.Status.SOLD).count() == 2
    record = PaymentNotification.objects.get()
    assert record.verified and record.result == PaymentNotification.Result.CONFIRMED
    payment.refresh_from_db()
    assert payment.state == Payment.State.CONFIRMED
    assert payment.gateway_trade_no == f"4200002{payment.pk:021d}"
    assert gateway.calls == []


def test_a_resent_notification_is_a_duplicate_and_delivers_once(payment, notification, post):
    genuine = notification(transaction(payment))
    post(genuine)

    response = post(genuine)

    assert response.status_code == 204
    assert list(PaymentNotification.objects.order_by("id").values_list("result", flat=True)) == [
        "confirmed",
        "duplicate",
    ]
    assert OrderEvent.objects.filter(order=payment.order, type="delivered").count() == 1
    assert sold() == 2


def test_a_notification_for_an_expired_order_is_a_late_payment_and_delivers(payment, notification, post):
    Order.objects.filter(pk=payment.order_id).update(expires_at=timezone.now() - timedelta(minutes=1))
    assert order_services.expire_unpaid_orders() == 1

    post(notification(transaction(payment)))

    order = Order.objects.get(pk=payment.order_id)
    assert order.status == Order.Status.DELIVERED
    assert OrderEvent.objects.filter(order=order, type="paid_late").exists()
    assert CardCode.objects.filter(order=order, status=CardCode.Status.SOLD).count() == 2


def test_a_late_payment_without_stock_left_waits_for_staff(payment, notification, post):
    Order.objects.filter(pk=payment.order_id).update(expires_at=timezone.now() - timedelta(minutes=1))
    order_services.expire_unpaid_orders()
    CardCode.objects.filter(status=CardCode.Status.AVAILABLE).update(status=CardCode.Status.VOID)

    response = post(notification(transaction(payment)))

    assert response.status_code == 204  # the money was taken: recorded, never dropped
    assert Payment.objects.get(pk=payment.pk).state == Payment.State.CONFIRMED
    assert Order.objects.get(pk=payment.order_id).status == Order.Status.DELIVERY_FAILED


def test_a_genuine_notification_for_one_order_pays_only_that_order(sku, payment, notification, post):
    other = place(sku, email="b@example.com")  # same amount, still pending

    post(notification(transaction(payment)))

    assert Payment.objects.get(pk=payment.pk).state == Payment.State.CONFIRMED
    other.refresh_from_db()
    assert other.state == Payment.State.PENDING
    assert Order.objects.get(pk=other.order_id).status == Order.Status.PENDING_PAYMENT


def test_a_notification_moved_onto_another_order_fails_its_signature(sku, payment, notification, post):
    other = place(sku, email="b@example.com")
    genuine = notification(transaction(payment))
    # Even knowing the APIv3 key, a forger cannot re-sign: A's signature over B's trade number.
    forged = notification(transaction(payment, out_trade_no=other.trade_no))
    forged.headers = genuine.headers

    response = post(forged)

    assert response.status_code == 400
    assert_rejected_and_unchanged(other)
    assert "bad signature" in last_message()
    assert Payment.objects.get(pk=payment.pk).state == Payment.State.PENDING


# Forged, tampered and unacceptable notifications


def test_a_tampered_amount_fails_the_signature(payment, notification, apiv3_key, post):
    genuine = notification(transaction(payment))
    envelope = json.loads(genuine.body)
    envelope["resource"] = encrypt(transaction(payment, amount={"total": 1, "currency": "CNY"}), apiv3_key)
    tampered = Notification(json.dumps(envelope, ensure_ascii=False), genuine.headers)

    response = post(tampered)

    assert response.status_code == 400
    assert json.loads(response.content) == {"code": "FAIL", "message": "rejected"}
    assert_rejected_and_unchanged(payment)
    assert "bad signature" in last_message()


def test_a_correctly_signed_wrong_amount_is_rejected(payment, notification, post):
    resource = transaction(payment, amount={"total": fen(payment) - 1, "currency": "CNY"})

    post(notification(resource))

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
def test_validly_signed_but_unacceptable_notifications_change_nothing(payment, notification, post, overrides, reason):
    post(notification(transaction(payment, **overrides)))

    assert_rejected_and_unchanged(payment)
    assert reason in last_message()


def test_the_amount_as_a_string_is_rejected(sku, notification, post):
    payment = place(sku, quantity=1)
    assert fen(payment) == 1000

    post(notification(transaction(payment, amount={"total": "1000", "currency": "CNY"})))

    assert_rejected_and_unchanged(payment)
    assert last_message() == "malformed amount"


def test_a_repeated_key_in_the_body_is_rejected(payment, notification, sign, post):
    genuine = json.loads(notification(transaction(payment)).body)
    body = json.dumps(genuine, ensure_ascii=False)[:-1] + ', "event_type": "TRANSACTION.SUCCESS"}'

    post(sign(body))

    assert_rejected_and_unchanged(payment)
    assert last_message() == "repeated key 'event_type' in body"


def test_a_repeated_key_in_the_resource_is_rejected(payment, notification, post):
    plain = json.dumps(transaction(payment), ensure_ascii=False)[:-1] + ', "out_trade_no": "P0"}'

    post(notification(plain))

    assert_rejected_and_unchanged(payment)
    assert last_message() == "repeated key 'out_trade_no' in resource"


@pytest.mark.parametrize("body", ["[1, 2]", "not json", '"a string"'])
def test_a_body_that_is_not_a_json_object_is_rejected(payment, sign, post, body):
    post(sign(body))

    assert_rejected_and_unchanged(payment)
    assert "JSON" in last_message()


@pytest.mark.parametrize("signature", [None, "", "   "])
def test_a_missing_or_empty_signature_is_rejected(payment, notification, post, signature):
    genuine = notification(transaction(payment))
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
def test_a_stale_or_future_timestamp_is_rejected(payment, notification, post, offset, reason):
    # Correctly signed over its own timestamp: only the age gives it away.
    post(notification(transaction(payment), timestamp=str(int(time.time()) + offset)))

    assert_rejected_and_unchanged(payment)
    assert last_message() == reason


@pytest.mark.parametrize("timestamp", ["", "12a", "-1700000000", "1e9", "１７００００００００"])
def test_a_malformed_timestamp_is_rejected(payment, notification, post, timestamp):
    post(notification(transaction(payment), timestamp=timestamp))

    assert_rejected_and_unchanged(payment)
    assert last_message() == "malformed timestamp"


def test_a_signature_made_with_another_key_is_rejected(payment, notification, post, stranger_key):
    post(notification(transaction(payment), key=stranger_key.key))

    assert_rejected_and_unchanged(payment)
    assert "bad signature" in last_message()


def test_garbage_in_the_signature_is_rejected(payment, notification, post):
    genuine = notification(transaction(payment))
    genuine.headers["HTTP_WECHATPAY_SIGNATURE"] = "not base64 at all!"

    post(genuine)

    assert_rejected_and_unchanged(payment)
    assert "bad signature" in last_message()


def test_a_resource_encrypted_with_another_apiv3_key_is_rejected(payment, notification, post):
    post(notification(transaction(payment), key_for_resource=secrets.token_hex(16)))

    assert_rejected_and_unchanged(payment)
    assert "undecryptable" in last_message()


def test_another_signature_type_is_rejected(payment, notification, post):
    post(notification(transaction(payment), HTTP_WECHATPAY_SIGNATURE_TYPE="WECHATPAY2-SM2-WITH-SM3"))

    assert_rejected_and_unchanged(payment)
    assert "signature type" in last_message()


def test_an_unknown_serial_is_rejected_without_calling_out(payment, notification, post, gateway):
    post(notification(transaction(payment), serial="PUB_KEY_ID_0119000001092099999999999999999999"))

    assert_rejected_and_unchanged(payment)
    assert last_message() == "unknown Wechatpay-Serial"
    assert gateway.calls == []


@pytest.mark.parametrize(
    "name", ["WECHATPAY_PUBLIC_KEY", "WECHATPAY_PUBLIC_KEY_ID", "WECHATPAY_APIV3_KEY", "WECHATPAY_MCHID"]
)
def test_an_empty_configured_key_or_id_never_verifies(payment, notification, post, settings, name):
    genuine = notification(transaction(payment))
    setattr(settings, name, "")

    post(genuine)

    assert_rejected_and_unchanged(payment)
    assert "not configured" in last_message()


def test_an_unknown_event_type_is_rejected(payment, notification, post):
    post(notification(transaction(payment), event="TRANSACTION.CLOSED"))

    assert_rejected_and_unchanged(payment)
    assert "event type" in last_message()


# Certificate mode


def test_certificate_mode_verifies_with_the_certificate_on_disk(cert_mode, payment, notification, post, gateway):
    response = post(notification(transaction(payment), serial=cert_mode))

    assert response.status_code == 204
    assert Order.objects.get(pk=payment.order_id).status == Order.Status.DELIVERED
    assert gateway.calls == []


def test_certificate_mode_accepts_the_serial_in_any_case(cert_mode, payment, notification, post):
    post(notification(transaction(payment), serial=cert_mode.lower()))

    assert Payment.objects.get(pk=payment.pk).state == Payment.State.CONFIRMED


@pytest.mark.parametrize("serial", ["7A1B2C3D4E5F60718293A4B5C6D7E8F901234567", "NOT-HEX", ""])
def test_certificate_mode_rejects_an_unknown_serial_without_calling_out(
    cert_mode, payment, notification, post, gateway, serial
):
    # The SDK would download certificates for a serial it does not know; the request never gets there.
    post(notification(transaction(payment), serial=serial))

    assert_rejected_and_unchanged(payment)
    assert last_message() == "unknown Wechatpay-Serial"
    assert gateway.calls == []


def test_certificate_mode_ignores_an_expired_certificate(
    settings, tmp_path, wechat_key, payment, notification, post, gateway
):
    expired = self_signed_certificate(wechat_key.key, days=30, start_days_ago=60)
    serial = serial_hex(expired.serial_number)
    (tmp_path / f"{serial}.pem").write_text(certificate_pem(expired))
    settings.WECHATPAY_PUBLIC_KEY = settings.WECHATPAY_PUBLIC_KEY_ID = ""
    settings.WECHATPAY_CERT_DIR = str(tmp_path)

    post(notification(transaction(payment), serial=serial))

    assert_rejected_and_unchanged(payment)
    assert last_message() == "unknown Wechatpay-Serial"
    assert gateway.calls == []


def test_certificate_mode_queries_verify_answers_with_the_certificate(cert_mode, payment, gateway):
    gateway.serial = cert_mode
    gateway.answer(200, {"mchid": MCHID, "appid": APPID, "out_trade_no": payment.trade_no, "trade_state": "NOTPAY"})

    assert get_provider("wechat").query(payment) == TradeStatus(state="waiting")
    assert "Wechatpay-Serial" not in gateway.calls[0].headers  # only public-key mode names a key to WeChat Pay


# Refund notifications


def test_a_refund_notification_never_confirms_a_payment(payment, notification, post):
    response = post(notification(refund_resource(payment, "R2026010100000000000000001"), event="REFUND.SUCCESS"))

    assert response.status_code == 204  # understood; nothing of ours to change
    record = PaymentNotification.objects.get()
    assert record.result == PaymentNotification.Result.REFUND
    payment.refresh_from_db()
    assert payment.state == Payment.State.PENDING
    assert Order.objects.get(pk=payment.order_id).status == Order.Status.PENDING_PAYMENT
    assert sold() == 0


def test_a_refund_notification_completes_a_processing_refund(payment, notification, post):
    post(notification(transaction(payment)))
    refund = Refund.objects.create(
        payment=payment, order=payment.order, amount=payment.amount, state=Refund.State.PROCESSING
    )

    post(notification(refund_resource(payment, refund.refund_no), event="REFUND.SUCCESS"))

    refund.refresh_from_db()
    assert refund.state == Refund.State.SUCCEEDED
    assert refund.gateway_refund_id == f"50000{payment.pk:024d}"
    assert Payment.objects.get(pk=payment.pk).state == Payment.State.CONFIRMED


@pytest.mark.parametrize(
    ("event", "status", "succeeded"),
    [("REFUND.ABNORMAL", "ABNORMAL", False), ("REFUND.CLOSED", "CLOSED", False), ("REFUND.SUCCESS", "SUCCESS", True)],
)
def test_refund_notifications_are_parsed_as_refunds(payment, notification, event, status, succeeded):
    signed = notification(refund_resource(payment, "R1", status), event=event)
    request = RequestFactory().post(NOTIFY_URL, data=signed.body, content_type="application/json", **signed.headers)

    verified = get_provider("wechat").parse_notification(request)

    assert verified == VerifiedRefundNotification(
        trade_no=payment.trade_no,
        refund_no="R1",
        succeeded=succeeded,
        gateway_refund_id=f"50000{payment.pk:024d}",
        message=status,
    )


def test_a_refund_notification_for_another_merchant_is_rejected(payment, notification):
    resource = {**refund_resource(payment, "R1"), "mchid": "1900000999"}
    signed = notification(resource, event="REFUND.SUCCESS")
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


# Starting a payment


def pay_request(user_agent=PC_UA):
    return RequestFactory().get("/checkout/", HTTP_USER_AGENT=user_agent, REMOTE_ADDR="203.0.113.7")


def merchant_signature_verifies(call: Call, public_pem: str) -> bool:
    """The SDK's Authorization header is our merchant key's signature over method, path, time, nonce, body."""
    scheme, _, params = call.headers["Authorization"].partition(" ")
    fields = dict(part.split("=", 1) for part in params.split(","))
    fields = {name: value.strip('"') for name, value in fields.items()}
    body = json.dumps(call.json) if call.json else ""
    message = f"{call.method}\n{call.path}\n{fields['timestamp']}\n{fields['nonce_str']}\n{body}\n"
    key = serialization.load_pem_public_key(public_pem.encode())
    try:
        key.verify(base64.b64decode(fields["signature"]), message.encode(), padding.PKCS1v15(), hashes.SHA256())
    except Exception:
        return False
    return scheme == "WECHATPAY2-SHA256-RSA2048" and fields["mchid"] == MCHID and fields["serial_no"] == MERCHANT_SERIAL


def test_start_on_a_pc_shows_a_native_qr_code(payment, gateway, settings, merchant_key):
    gateway.answer(200, {"code_url": CODE_URL})

    action = get_provider("wechat").start(payment, request=pay_request())

    assert (action.kind, action.qr_content, action.url) == ("qr", CODE_URL, "")
    (call,) = gateway.calls
    assert (call.method, call.path) == ("POST", "/v3/pay/transactions/native")
    expires = timezone.localtime(payment.expires_at).strftime("%Y-%m-%dT%H:%M:%S+08:00")
    assert call.json == {
        "notify_url": settings.SITE_URL + NOTIFY_URL,
        "description": f"{payment.order.product_title} {payment.order.sku_name}",
        "out_trade_no": payment.trade_no,
        "amount": {"total": 2000, "currency": "CNY"},
        "time_expire": expires,
        "appid": APPID,
        "mchid": MCHID,
    }
    assert call.headers["Wechatpay-Serial"] == PUBLIC_KEY_ID
    assert merchant_signature_verifies(call, merchant_key.public_pem)


def test_start_shows_the_issued_qr_code_again_without_asking(payment, gateway):
    payment.qr_content = CODE_URL

    action = get_provider("wechat").start(payment, request=pay_request(IPHONE_UA))

    assert (action.kind, action.qr_content) == ("qr", CODE_URL)
    assert gateway.calls == []


def test_the_payment_page_asks_wechat_pay_once(payment, gateway):
    gateway.answer(200, {"code_url": CODE_URL})

    payment_services.start_payment(payment, request=pay_request())
    action = payment_services.start_payment(Payment.objects.get(pk=payment.pk), request=pay_request())

    assert action.qr_content == CODE_URL
    assert len(gateway.calls) == 1


def test_start_on_a_phone_without_h5_shows_the_qr_code(payment, gateway):
    gateway.answer(200, {"code_url": CODE_URL})

    action = get_provider("wechat").start(payment, request=pay_request(IPHONE_UA))

    assert action.kind == "qr"
    assert gateway.calls[0].path == "/v3/pay/transactions/native"


def test_start_on_a_phone_with_h5_redirects_to_wechat(payment, gateway, settings):
    settings.WECHATPAY_H5_ENABLED = True
    gateway.answer(200, {"h5_url": H5_URL})

    action = get_provider("wechat").start(payment, request=pay_request(IPHONE_UA))

    back = f"{settings.SITE_URL}/payments/pay/{payment.trade_no}/"
    assert action.kind == "redirect"
    assert action.url == f"{H5_URL}&redirect_url={quote(back, safe='')}"
    (call,) = gateway.calls
    assert call.path == "/v3/pay/transactions/h5"
    assert call.json["scene_info"] == {"payer_client_ip": "203.0.113.7", "h5_info": {"type": "Wap"}}
    assert call.json["amount"] == {"total": 2000, "currency": "CNY"}


def test_a_topup_is_described_as_one(shopper, gateway):
    topup = payment_services.start_topup(shopper, amount=Decimal("50.00"), provider="wechat")
    gateway.answer(200, {"code_url": CODE_URL})

    get_provider("wechat").start(topup, request=pay_request())

    assert gateway.calls[0].json["description"] == "钱包充值"
    assert gateway.calls[0].json["amount"] == {"total": 5000, "currency": "CNY"}


@pytest.mark.parametrize(
    ("answer", "options", "match"),
    [
        ((400, {"code": "PARAM_ERROR", "message": "参数错误"}), {}, "PARAM_ERROR"),
        ((500, {"code": "SYSTEM_ERROR", "message": "系统错误"}), {}, "SYSTEM_ERROR"),
        ((200, {"prepay_id": "wx1"}), {}, "no code_url"),
        ((200, None), {"raises": requests.exceptions.ReadTimeout("read timed out")}, "ReadTimeout"),
        ((200, {"code_url": "weixin://evil"}), {"forged": True}, "failed to verify the signature"),
    ],
)
def test_start_raises_a_gateway_error_when_wechat_pay_fails(payment, gateway, answer, options, match):
    gateway.answer(*answer, **options)

    with pytest.raises(GatewayError, match=match):
        get_provider("wechat").start(payment, request=pay_request())


def test_a_pkcs1_merchant_key_is_refused(payment, settings, gateway):
    settings.WECHATPAY_PRIVATE_KEY = key_pair(serialization.PrivateFormat.TraditionalOpenSSL).private_pem

    with pytest.raises(ImproperlyConfigured, match="PKCS#8"):
        get_provider("wechat").start(payment, request=pay_request())
    assert gateway.calls == []


# Queries


def trade(payment: Payment, state: str, **overrides) -> dict:
    answer = {"mchid": MCHID, "appid": APPID, "out_trade_no": payment.trade_no, "trade_state": state}
    if state == "SUCCESS":
        answer |= {"transaction_id": "4200002000000000001", "amount": {"total": fen(payment), "currency": "CNY"}}
    return answer | overrides


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        ("NOTPAY", TradeStatus(state="waiting")),
        ("USERPAYING", TradeStatus(state="waiting")),
        ("CLOSED", TradeStatus(state="closed")),
        ("REVOKED", TradeStatus(state="closed")),
        ("PAYERROR", TradeStatus(state="closed")),
        ("SUCCESS", TradeStatus(state="paid", amount=Decimal("20.00"), gateway_trade_no="4200002000000000001")),
    ],
)
def test_query_maps_trade_states(payment, gateway, state, expected):
    gateway.answer(200, trade(payment, state))

    assert get_provider("wechat").query(payment) == expected
    (call,) = gateway.calls
    assert (call.method, call.path) == ("GET", f"/v3/pay/transactions/out-trade-no/{payment.trade_no}?mchid={MCHID}")


def test_query_of_a_trade_wechat_pay_never_saw_is_waiting(payment, gateway):
    gateway.answer(404, {"code": "ORDER_NOT_EXIST", "message": "订单不存在"})

    assert get_provider("wechat").query(payment) == TradeStatus(state="waiting")


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (500, {"code": "SYSTEM_ERROR", "message": "系统错误"}),
        (401, {"code": "SIGN_ERROR", "message": "签名错误"}),
        (200, {"mchid": "1900000999"}),
        (200, {"appid": "wx0000000000000999"}),
        (200, {"out_trade_no": "P0"}),
        (200, {"trade_state": "REFUND"}),
        (200, {"amount": {"total": "2000", "currency": "CNY"}}),
        (200, {"transaction_id": ""}),
    ],
)
def test_query_raises_when_it_cannot_tell(payment, gateway, status, body):
    gateway.answer(status, trade(payment, "SUCCESS", **body) if status == 200 else body)

    with pytest.raises(GatewayError):
        get_provider("wechat").query(payment)


def test_query_refuses_an_answer_not_signed_by_wechat_pay(payment, gateway):
    gateway.answer(200, trade(payment, "SUCCESS"), forged=True)

    with pytest.raises(GatewayError, match="signature"):
        get_provider("wechat").query(payment)


# Closing


@pytest.fixture
def old_payment(payment):
    Payment.objects.filter(pk=payment.pk).update(created_at=timezone.now() - timedelta(minutes=6))
    return Payment.objects.get(pk=payment.pk)


def test_close_refuses_a_trade_younger_than_five_minutes(payment, gateway):
    with pytest.raises(GatewayError, match="5 minutes"):
        get_provider("wechat").close(payment)
    assert gateway.calls == []


def test_close_posts_to_wechat_pay(old_payment, gateway):
    gateway.answer(204)

    assert get_provider("wechat").close(old_payment) is None
    (call,) = gateway.calls
    assert (call.method, call.path) == ("POST", f"/v3/pay/transactions/out-trade-no/{old_payment.trade_no}/close")
    assert call.json == {"mchid": MCHID}


def test_close_of_a_trade_wechat_pay_never_saw_counts_as_closed(old_payment, gateway):
    gateway.answer(404, {"code": "ORDER_NOT_EXIST", "message": "订单不存在"})

    assert get_provider("wechat").close(old_payment) is None


@pytest.mark.parametrize(
    ("status", "body", "options"),
    [
        (400, {"code": "ORDERPAID", "message": "订单已支付"}, {}),
        (500, {"code": "SYSTEM_ERROR", "message": "系统错误"}, {}),
        (204, None, {"raises": requests.exceptions.ConnectionError("refused")}),
        (204, None, {"forged": True}),
    ],
)
def test_close_raises_otherwise(old_payment, gateway, status, body, options):
    gateway.answer(status, body, **options)

    with pytest.raises(GatewayError):
        get_provider("wechat").close(old_payment)


# Refunds


@pytest.fixture
def refund(payment):
    return Refund(payment=payment, order=payment.order, amount=Money("5.00", "CNY"), reason="不想要了")


def refund_answer(refund: Refund, status: str) -> dict:
    return {
        "refund_id": "50000000382019052709732678859",
        "out_refund_no": refund.refund_no,
        "transaction_id": "4200002000000000001",
        "out_trade_no": refund.payment.trade_no,
        "channel": "ORIGINAL",
        "user_received_account": "支付用户零钱",
        "create_time": "2026-01-02T10:00:00+08:00",
        "status": status,
        "amount": {"total": 2000, "refund": 500, "payer_total": 2000, "payer_refund": 500, "currency": "CNY"},
    }


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("SUCCESS", RefundResult(state="succeeded", gateway_refund_id="50000000382019052709732678859")),
        ("PROCESSING", RefundResult(state="processing", gateway_refund_id="50000000382019052709732678859")),
        ("ABNORMAL", RefundResult(state="failed", gateway_refund_id="50000000382019052709732678859")),
        ("CLOSED", RefundResult(state="failed", gateway_refund_id="50000000382019052709732678859")),
    ],
)
def test_refund_maps_the_refund_status(refund, gateway, settings, status, expected):
    gateway.answer(200, refund_answer(refund, status))

    assert get_provider("wechat").refund(refund) == expected
    (call,) = gateway.calls
    assert (call.method, call.path) == ("POST", "/v3/refund/domestic/refunds")
    assert call.json == {
        "notify_url": settings.SITE_URL + NOTIFY_URL,
        "out_refund_no": refund.refund_no,
        "amount": {"refund": 500, "total": 2000, "currency": "CNY"},
        "out_trade_no": refund.payment.trade_no,
        "reason": "不想要了",
    }


@pytest.mark.parametrize(
    ("status", "code"),
    [(403, "NOT_ENOUGH"), (400, "INVALID_REQUEST"), (403, "USER_ACCOUNT_ABNORMAL"), (404, "RESOURCE_NOT_EXISTS")],
)
def test_refund_refused_with_a_code_has_failed(refund, gateway, status, code):
    gateway.answer(status, {"code": code, "message": "退款被拒绝"})

    assert get_provider("wechat").refund(refund) == RefundResult(state="failed", message=f"{code}: 退款被拒绝")


@pytest.mark.parametrize(
    ("status", "body", "options"),
    [
        (500, {"code": "SYSTEM_ERROR", "message": "系统超时"}, {}),
        (429, {"code": "FREQUENCY_LIMITED", "message": "频率限制"}, {}),
        (200, None, {"raises": requests.exceptions.ReadTimeout("read timed out")}),
        (200, {"status": "SUCCESS", "out_refund_no": "R-someone-else"}, {}),
        (200, {"status": "SUCCESS"}, {"forged": True}),
    ],
)
def test_refund_with_an_unknown_outcome_raises(refund, gateway, status, body, options):
    gateway.answer(status, body, **options)

    with pytest.raises(GatewayError):
        get_provider("wechat").refund(refund)


def test_query_refund_maps_the_same_way(refund, gateway):
    gateway.answer(200, refund_answer(refund, "SUCCESS"))
    gateway.answer(404, {"code": "RESOURCE_NOT_EXISTS", "message": "退款单不存在"})
    gateway.answer(500, {"code": "SYSTEM_ERROR", "message": "系统错误"})
    provider = get_provider("wechat")

    assert provider.query_refund(refund).state == "succeeded"
    assert provider.query_refund(refund).state == "failed"
    with pytest.raises(GatewayError):
        provider.query_refund(refund)
    assert [(call.method, call.path) for call in gateway.calls] == [
        ("GET", f"/v3/refund/domestic/refunds/{refund.refund_no}")
    ] * 3


# Availability and staff facts


def test_wechat_pay_is_offered_only_when_fully_configured(settings):
    provider = get_provider("wechat")
    assert provider.is_available(user=None)

    settings.WECHATPAY_PUBLIC_KEY_ID = ""

    assert not provider.is_available(user=None)


def test_certificate_mode_is_offered(cert_mode):
    assert get_provider("wechat").is_available(user=None)


def test_status_lines_name_the_mode_and_never_a_secret(settings, apiv3_key, merchant_key):
    lines = get_provider("wechat").status_lines()

    assert lines == [f"商户号 {MCHID}, AppID {APPID}", f"public-key mode, key id {PUBLIC_KEY_ID}", "H5 pay off"]
    text = "\n".join(lines)
    assert apiv3_key not in text and "PRIVATE KEY" not in text and "PUBLIC KEY" not in text


def test_status_lines_count_certificates(cert_mode, settings):
    settings.WECHATPAY_H5_ENABLED = True

    lines = get_provider("wechat").status_lines()

    assert lines[1] == f"platform-certificate mode, 1 valid certificates in {settings.WECHATPAY_CERT_DIR}"
    assert lines[2] == "H5 pay on"


# fetch_wechatpay_certificates


def certificate_list(certificates: list[x509.Certificate], apiv3_key: str) -> dict:
    data = []
    for certificate in certificates:
        data.append(
            {
                "serial_no": serial_hex(certificate.serial_number),
                "effective_time": certificate.not_valid_before_utc.isoformat(),
                "expire_time": certificate.not_valid_after_utc.isoformat(),
                "encrypt_certificate": encrypt(certificate_pem(certificate), apiv3_key, "certificate"),
            }
        )
    return {"data": data}


def test_fetching_certificates_saves_them(settings, tmp_path, wechat_key, apiv3_key, gateway):
    cert_dir = tmp_path / "wechatpay"
    settings.WECHATPAY_PUBLIC_KEY = settings.WECHATPAY_PUBLIC_KEY_ID = ""
    settings.WECHATPAY_CERT_DIR = str(cert_dir)
    certificate = self_signed_certificate(wechat_key.key)
    gateway.answer(200, certificate_list([certificate], apiv3_key))
    out = StringIO()

    call_command("fetch_wechatpay_certificates", stdout=out)

    serial = serial_hex(certificate.serial_number)
    assert (cert_dir / f"{serial}.pem").read_text() == certificate_pem(certificate)
    assert serial in out.getvalue() and "(new)" in out.getvalue()
    assert [(call.method, call.path) for call in gateway.calls] == [("GET", "/v3/certificates")]


def test_fetching_again_adds_a_newly_issued_certificate(cert_mode, settings, wechat_key, apiv3_key, gateway):
    newer = self_signed_certificate(wechat_key.key, days=730)
    gateway.answer(200, certificate_list([newer], apiv3_key))
    out = StringIO()

    call_command("fetch_wechatpay_certificates", stdout=out)

    lines = out.getvalue().splitlines()
    assert len(lines) == 2
    assert lines[0].startswith(cert_mode) and "(new)" not in lines[0]
    assert lines[1].startswith(serial_hex(newer.serial_number)) and lines[1].endswith("(new)")


def test_fetching_in_public_key_mode_does_nothing(gateway):
    out = StringIO()

    call_command("fetch_wechatpay_certificates", stdout=out)

    assert "Public-key mode" in out.getvalue()
    assert gateway.calls == []


# Races (PostgreSQL)


@pytest.mark.postgres
@pytest.mark.usefixtures("transactional_db", "fast_password_hashing")
def test_fifty_copies_of_one_notification_at_once_confirm_and_deliver_once(notification, mailoutbox):
    # given
    sku = factories.SkuFactory(price="10.00")
    factories.stock(sku, 5)
    payment = place(sku)
    genuine = notification(transaction(payment))

    # when
    responses = run_together([lambda: genuine.post(Client())] * 50)

    # then
    assert [response.status_code for response in responses] == [204] * 50
    results = Counter(PaymentNotification.objects.values_list("result", flat=True))
    assert results == {PaymentNotification.Result.CONFIRMED: 1, PaymentNotification.Result.DUPLICATE: 49}
    order = Order.objects.get(pk=payment.order_id)
    assert order.status == Order.Status.DELIVERED
    events = Counter(OrderEvent.objects.filter(order=order).values_list("type", flat=True))
    assert events == {"placed": 1, "paid": 1, "delivered": 1}
    assert CardCode.objects.filter(order=order, status=CardCode.Status.SOLD).count() == 2
    assert CardCode.objects.filter(status=CardCode.Status.SOLD).count() == 2
    assert len(mailoutbox) == 1
