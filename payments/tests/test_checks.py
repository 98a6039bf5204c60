from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from payments.checks import check_alipay


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
