"""WeChat Pay APIv3 faked at the SDK's HTTP layer, with keys the test generates: a pytest plugin.

Notifications are signed and encrypted with `cryptography` exactly as WeChat Pay does, so our
verification is checked independently of the SDK. The fake replaces `wechatpayv3.core.requests`;
its answers are signed with the generated WeChat Pay key and every call is recorded. Nothing here
is autouse: a test module asks for `wechat_enabled` (settings) and `wechat_gateway` itself.
"""

import base64
import json
import secrets
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
import wechatpayv3.core
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.x509.oid import NameOID
from django.test import Client
from requests.structures import CaseInsensitiveDict

from payments.providers.wechat_config import serial_hex

NOTIFY_URL = "/payments/wechat/notify/"
MCHID = "1900000109"
APPID = "wxd678efh567hg6787"
MERCHANT_SERIAL = "5157F09EFDC096DE15EBE81A47057A7232F1B8E1"
PUBLIC_KEY_ID = "PUB_KEY_ID_0119000001092025010100000000000001"
CODE_URL = "weixin://wxpay/bizpayurl?pr=aIQrOYOzz"
H5_URL = "https://wx.tenpay.com/cgi-bin/mmpayweb-bin/checkmweb?prepay_id=wx2016121516420242444321ca0631331346&package=1405458241"
PROVIDER_PATH = "payments.providers.wechat.WeChatPayProvider"
API = "https://api.mch.weixin.qq.com"


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


# Resources (what WeChat Pay encrypts into a notification or answers to a query)


def fen(payment) -> int:
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


def transaction(payment, **overrides) -> dict:
    """A paid transaction for `payment`, as in a TRANSACTION.SUCCESS notification."""
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


def refund_resource(payment, refund_no: str, status: str = "SUCCESS", *, refund_fen: int | None = None) -> dict:
    """A refund as in a REFUND.* notification; the whole payment unless `refund_fen` says otherwise."""
    total = fen(payment)
    refunded = total if refund_fen is None else refund_fen
    return {
        "mchid": MCHID,
        "transaction_id": f"4200002{payment.pk:021d}",
        "out_trade_no": payment.trade_no,
        "refund_id": f"50000{payment.pk:024d}",
        "out_refund_no": refund_no,
        "refund_status": status,
        "success_time": "2026-01-02T10:00:00+08:00",
        "user_received_account": "支付用户零钱",
        "amount": {"total": total, "refund": refunded, "payer_total": total, "payer_refund": refunded},
    }


def trade_answer(payment, state: str, **overrides) -> dict:
    """The query-by-out-trade-no answer for `payment` in `state` (SUCCESS, NOTPAY, CLOSED, ...)."""
    answer = {"mchid": MCHID, "appid": APPID, "out_trade_no": payment.trade_no, "trade_state": state}
    if state == "SUCCESS":
        answer |= {"transaction_id": "4200002000000000001", "amount": {"total": fen(payment), "currency": "CNY"}}
    return answer | overrides


def refund_answer(refund, status: str) -> dict:
    """The refunds API's answer for `refund` in `status` (SUCCESS, PROCESSING, ABNORMAL, CLOSED)."""
    total, refunded = fen(refund.payment), int(refund.amount.amount * 100)
    return {
        "refund_id": "50000000382019052709732678859",
        "out_refund_no": refund.refund_no,
        "transaction_id": "4200002000000000001",
        "out_trade_no": refund.payment.trade_no,
        "channel": "ORIGINAL",
        "user_received_account": "支付用户零钱",
        "create_time": "2026-01-02T10:00:00+08:00",
        "status": status,
        "amount": {
            "total": total,
            "refund": refunded,
            "payer_total": total,
            "payer_refund": refunded,
            "currency": "CNY",
        },
    }


# Notifications


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


def build_notification(
    resource: dict | str,
    *,
    key: rsa.RSAPrivateKey,
    apiv3_key: str,
    event: str = "TRANSACTION.SUCCESS",
    **options,
) -> Notification:
    """`resource` encrypted with the APIv3 key into an envelope, then signed with `key` (WeChat Pay's)."""
    associated_data = "refund" if event.startswith("REFUND.") else "transaction"
    envelope = {
        "id": str(uuid.uuid4()),
        "create_time": "2026-01-01T12:00:06+08:00",
        "resource_type": "encrypt-resource",
        "event_type": event,
        "summary": "支付成功",
        "resource": encrypt(resource, apiv3_key, associated_data),
    }
    body = json.dumps(envelope, ensure_ascii=False)
    return Notification(body, signed_headers(body, key, **options))


# The fake gateway


@dataclass
class Call:
    method: str
    url: str
    headers: dict
    json: dict | None

    @property
    def path(self) -> str:
        return self.url.removeprefix(API)


@dataclass
class FakeGateway:
    """api.mch.weixin.qq.com as the SDK sees it: queued answers, signed like WeChat Pay's, and a call log."""

    signing_key: rsa.RSAPrivateKey
    stranger_key: rsa.RSAPrivateKey
    serial: str
    calls: list[Call] = field(default_factory=list)
    answers: list[tuple[int, object, dict]] = field(default_factory=list)

    def answer(self, status: int, body: object = None, **options) -> None:
        """Queue an answer; `raises` an exception instead, `forged` signs with a stranger's key.

        `body` may be a callable taking the Call, for answers that name what the request named.
        """
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
        if callable(body):
            body = body(call)
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


# Fixtures


@pytest.fixture(scope="session")
def wechat_merchant_key() -> KeyPair:
    """Our merchant API key: signs our requests."""
    return key_pair()


@pytest.fixture(scope="session")
def wechat_key() -> KeyPair:
    """WeChat Pay's own key: signs notifications and answers."""
    return key_pair()


@pytest.fixture(scope="session")
def wechat_stranger_key() -> KeyPair:
    """Anyone else's key: what a forger signs with."""
    return key_pair()


@pytest.fixture(scope="session")
def wechat_apiv3_key() -> str:
    return secrets.token_hex(16)  # 32 bytes, as the merchant platform issues it


@pytest.fixture
def wechat_enabled(settings, wechat_merchant_key, wechat_key, wechat_apiv3_key):
    """WeChat Pay fully configured in public-key mode, H5 off, offered beside the other providers."""
    settings.WECHATPAY_ENABLED = True
    settings.WECHATPAY_MCHID = MCHID
    settings.WECHATPAY_APPID = APPID
    settings.WECHATPAY_APIV3_KEY = wechat_apiv3_key
    settings.WECHATPAY_CERT_SERIAL_NO = MERCHANT_SERIAL
    settings.WECHATPAY_PRIVATE_KEY = wechat_merchant_key.private_pem
    settings.WECHATPAY_PUBLIC_KEY = wechat_key.public_pem
    settings.WECHATPAY_PUBLIC_KEY_ID = PUBLIC_KEY_ID
    settings.WECHATPAY_CERT_DIR = ""
    settings.WECHATPAY_H5_ENABLED = False
    if PROVIDER_PATH not in settings.PAYMENT_PROVIDERS:
        settings.PAYMENT_PROVIDERS = [*settings.PAYMENT_PROVIDERS, PROVIDER_PATH]
    return settings


@pytest.fixture
def wechat_cert_mode(wechat_enabled, wechat_key, tmp_path) -> str:
    """Certificate mode: WeChat Pay's key in a self-signed "platform certificate" on disk; its serial."""
    certificate = self_signed_certificate(wechat_key.key)
    serial = serial_hex(certificate.serial_number)
    (tmp_path / f"{serial}.pem").write_text(certificate_pem(certificate))
    wechat_enabled.WECHATPAY_PUBLIC_KEY = ""
    wechat_enabled.WECHATPAY_PUBLIC_KEY_ID = ""
    wechat_enabled.WECHATPAY_CERT_DIR = str(tmp_path)
    return serial


@pytest.fixture
def wechat_gateway(monkeypatch, wechat_key, wechat_stranger_key) -> FakeGateway:
    """The fake in place of the SDK's `requests`: nothing can reach the network, every call is recorded."""
    fake = FakeGateway(signing_key=wechat_key.key, stranger_key=wechat_stranger_key.key, serial=PUBLIC_KEY_ID)
    monkeypatch.setattr(wechatpayv3.core, "requests", SimpleNamespace(get=fake.get, post=fake.post))
    return fake


@pytest.fixture
def wechat_sign(wechat_key):
    """Sign a raw body as WeChat Pay does (keyword options as in signed_headers; `key` to sign with another)."""

    def build(body: str, **options) -> Notification:
        return Notification(body, signed_headers(body, options.pop("key", wechat_key.key), **options))

    return build


@pytest.fixture
def wechat_notification(wechat_key, wechat_apiv3_key):
    """A genuine notification: `resource` (plain dict or str) encrypted with the APIv3 key, then signed.

    Options: `event` (TRANSACTION.SUCCESS, REFUND.SUCCESS, ...), `key_for_resource` (another APIv3
    key), `key` (another signing key), and those of signed_headers.
    """

    def build(resource: dict | str, *, event="TRANSACTION.SUCCESS", key_for_resource=None, **options):
        key = options.pop("key", wechat_key.key)
        return build_notification(
            resource, key=key, apiv3_key=key_for_resource or wechat_apiv3_key, event=event, **options
        )

    return build
