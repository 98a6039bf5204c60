from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from django.core import checks

from payments.checks import check_alipay, check_wechatpay


def pem_pair(private_format=serialization.PrivateFormat.TraditionalOpenSSL) -> tuple[str, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(serialization.Encoding.PEM, private_format, serialization.NoEncryption()).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public


def configure(settings, **overrides):
    private, public = pem_pair()
    values = {
        "ALIPAY_ENABLED": True,
        "ALIPAY_APP_ID": "2021000000000000",
        "ALIPAY_SELLER_ID": "2088000000000000",
        "ALIPAY_APP_PRIVATE_KEY": private,
        "ALIPAY_PUBLIC_KEY": public,
        **overrides,
    }
    for name, value in values.items():
        setattr(settings, name, value)


def ids(settings) -> list[str]:
    return [message.id for message in check_alipay(None)]


def test_a_disabled_gateway_is_not_checked(settings):
    settings.ALIPAY_ENABLED = False
    settings.ALIPAY_APP_ID = ""
    assert ids(settings) == []


def test_a_complete_configuration_passes(settings):
    configure(settings)
    assert ids(settings) == []


def test_missing_values_are_named(settings):
    configure(settings, ALIPAY_SELLER_ID="", ALIPAY_PUBLIC_KEY="")
    messages = check_alipay(None)
    assert [m.id for m in messages] == ["payments.E001"]
    assert "ALIPAY_SELLER_ID" in messages[0].msg and "ALIPAY_PUBLIC_KEY" in messages[0].msg


def test_a_pkcs8_app_key_is_refused_with_the_conversion_hint(settings):
    pkcs8, _ = pem_pair(serialization.PrivateFormat.PKCS8)
    configure(settings, ALIPAY_APP_PRIVATE_KEY=pkcs8)
    assert ids(settings) == ["payments.E002"]


def test_unreadable_keys_are_reported(settings):
    configure(
        settings,
        ALIPAY_APP_PRIVATE_KEY="-----BEGIN RSA PRIVATE KEY-----\nnot a key\n-----END RSA PRIVATE KEY-----\n",
        ALIPAY_PUBLIC_KEY="not a key",
    )
    assert ids(settings) == ["payments.E003", "payments.E004"]


# WeChat Pay


def wechatpay_configure(settings, **overrides):
    private, _ = pem_pair(serialization.PrivateFormat.PKCS8)
    _, wechat_public = pem_pair()
    values = {
        "WECHATPAY_ENABLED": True,
        "WECHATPAY_MCHID": "1900000109",
        "WECHATPAY_APPID": "wxd678efh567hg6787",
        "WECHATPAY_APIV3_KEY": "0123456789abcdef0123456789abcdef",
        "WECHATPAY_CERT_SERIAL_NO": "5157F09EFDC096DE15EBE81A47057A7232F1B8E1",
        "WECHATPAY_PRIVATE_KEY": private,
        "WECHATPAY_PUBLIC_KEY": wechat_public,
        "WECHATPAY_PUBLIC_KEY_ID": "PUB_KEY_ID_0119000001092025010100000000000001",
        "WECHATPAY_CERT_DIR": "",
        **overrides,
    }
    for name, value in values.items():
        setattr(settings, name, value)


def wechatpay_ids() -> list[str]:
    return [message.id for message in check_wechatpay(None)]


def test_a_disabled_wechatpay_is_not_checked(settings):
    wechatpay_configure(settings, WECHATPAY_ENABLED=False, WECHATPAY_MCHID="")
    assert wechatpay_ids() == []


def test_a_complete_wechatpay_public_key_configuration_passes(settings):
    wechatpay_configure(settings)
    assert wechatpay_ids() == []


def test_missing_wechatpay_values_are_named(settings):
    wechatpay_configure(settings, WECHATPAY_MCHID="", WECHATPAY_CERT_SERIAL_NO="")
    messages = check_wechatpay(None)
    assert [m.id for m in messages] == ["payments.E010"]
    assert "WECHATPAY_MCHID" in messages[0].msg and "WECHATPAY_CERT_SERIAL_NO" in messages[0].msg


def test_a_pkcs1_wechatpay_merchant_key_is_refused(settings):
    pkcs1, _ = pem_pair(serialization.PrivateFormat.TraditionalOpenSSL)
    wechatpay_configure(settings, WECHATPAY_PRIVATE_KEY=pkcs1)
    assert wechatpay_ids() == ["payments.E011"]


def test_an_unreadable_wechatpay_merchant_key_is_reported(settings):
    wechatpay_configure(
        settings, WECHATPAY_PRIVATE_KEY="-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n"
    )
    assert wechatpay_ids() == ["payments.E012"]


@pytest.mark.parametrize("apiv3_key", ["short", "0123456789abcdef0123456789abcdef0", "密钥" * 8])
def test_an_apiv3_key_must_be_32_bytes(settings, apiv3_key):
    wechatpay_configure(settings, WECHATPAY_APIV3_KEY=apiv3_key)
    assert wechatpay_ids() == ["payments.E013"]


@pytest.mark.parametrize("missing", ["WECHATPAY_PUBLIC_KEY", "WECHATPAY_PUBLIC_KEY_ID"])
def test_a_half_configured_wechatpay_public_key_is_refused(settings, missing):
    wechatpay_configure(settings, **{missing: ""})
    assert wechatpay_ids() == ["payments.E014"]


def test_wechatpay_needs_a_public_key_or_a_certificate_directory(settings):
    wechatpay_configure(settings, WECHATPAY_PUBLIC_KEY="", WECHATPAY_PUBLIC_KEY_ID="")
    assert wechatpay_ids() == ["payments.E015"]


def test_an_unreadable_wechatpay_public_key_is_reported(settings):
    wechatpay_configure(settings, WECHATPAY_PUBLIC_KEY="not a key")
    assert wechatpay_ids() == ["payments.E016"]


def test_an_empty_certificate_directory_is_a_warning_with_the_fetch_hint(settings, tmp_path):
    wechatpay_configure(settings, WECHATPAY_PUBLIC_KEY="", WECHATPAY_PUBLIC_KEY_ID="", WECHATPAY_CERT_DIR=str(tmp_path))
    messages = check_wechatpay(None)
    assert [m.id for m in messages] == ["payments.W011"]
    assert isinstance(messages[0], checks.Warning)
    assert "fetch_wechatpay_certificates" in messages[0].hint


def test_a_certificate_directory_with_a_valid_certificate_passes(settings, tmp_path):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Tenpay.com Root CA")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=365))
        .sign(key, hashes.SHA256())
    )
    (tmp_path / f"{certificate.serial_number:X}.pem").write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    wechatpay_configure(settings, WECHATPAY_PUBLIC_KEY="", WECHATPAY_PUBLIC_KEY_ID="", WECHATPAY_CERT_DIR=str(tmp_path))
    assert wechatpay_ids() == []
