"""Start-up checks: a payment gateway that is switched on but misconfigured is reported by
`manage.py check` (and every management command), never by a shopper's failed payment."""

from cryptography.hazmat.primitives import serialization
from django.conf import settings
from django.core import checks

ALIPAY_REQUIRED = ("ALIPAY_APP_ID", "ALIPAY_SELLER_ID", "ALIPAY_APP_PRIVATE_KEY", "ALIPAY_PUBLIC_KEY")


@checks.register(checks.Tags.security)
def check_alipay(app_configs, **kwargs) -> list[checks.CheckMessage]:
    if not getattr(settings, "ALIPAY_ENABLED", False):
        return []
    missing = [name for name in ALIPAY_REQUIRED if not getattr(settings, name, "")]
    if missing:
        return [
            checks.Error(
                f"ALIPAY_ENABLED is set but {', '.join(missing)} is empty.",
                hint="Set the values (keys also as NAME_FILE pointing at a PEM file) or unset ALIPAY_ENABLED.",
                id="payments.E001",
            )
        ]
    errors = []
    private_key = settings.ALIPAY_APP_PRIVATE_KEY
    if "BEGIN RSA PRIVATE KEY" not in private_key:
        errors.append(
            checks.Error(
                "ALIPAY_APP_PRIVATE_KEY must be a PKCS#1 PEM key (BEGIN RSA PRIVATE KEY).",
                hint="Convert Alipay's PKCS#8 export: openssl rsa -in app_key.pem -out app_key_pkcs1.pem -traditional",
                id="payments.E002",
            )
        )
    elif not _loads(serialization.load_pem_private_key, private_key, password=None):
        errors.append(checks.Error("ALIPAY_APP_PRIVATE_KEY is not a readable RSA key.", id="payments.E003"))
    if not _loads(serialization.load_pem_public_key, settings.ALIPAY_PUBLIC_KEY):
        errors.append(
            checks.Error(
                "ALIPAY_PUBLIC_KEY is not a readable PEM public key (BEGIN PUBLIC KEY).",
                hint="Use Alipay's public key from the open platform, not your app's public key.",
                id="payments.E004",
            )
        )
    return errors


def _loads(loader, pem: str, **kwargs) -> bool:
    try:
        loader(pem.encode(), **kwargs)
    except (ValueError, TypeError):
        return False
    return True


WECHATPAY_REQUIRED = (
    "WECHATPAY_MCHID",
    "WECHATPAY_APPID",
    "WECHATPAY_APIV3_KEY",
    "WECHATPAY_CERT_SERIAL_NO",
    "WECHATPAY_PRIVATE_KEY",
)


@checks.register(checks.Tags.security)
def check_wechatpay(app_configs, **kwargs) -> list[checks.CheckMessage]:
    if not getattr(settings, "WECHATPAY_ENABLED", False):
        return []
    errors = []
    missing = [name for name in WECHATPAY_REQUIRED if not getattr(settings, name, "")]
    if missing:
        errors.append(
            checks.Error(
                f"WECHATPAY_ENABLED is set but {', '.join(missing)} is empty.",
                hint="Set the values (keys also as NAME_FILE pointing at a PEM file) or unset WECHATPAY_ENABLED.",
                id="payments.E010",
            )
        )
    errors += _wechatpay_merchant_keys()
    return errors + _wechatpay_verification()


def _wechatpay_merchant_keys() -> list[checks.CheckMessage]:
    errors = []
    private_key = getattr(settings, "WECHATPAY_PRIVATE_KEY", "") or ""
    if private_key and "-----BEGIN PRIVATE KEY-----" not in private_key:
        errors.append(
            checks.Error(
                "WECHATPAY_PRIVATE_KEY must be a PKCS#8 PEM key (BEGIN PRIVATE KEY).",
                hint="Use apiclient_key.pem as issued, or convert: openssl pkcs8 -topk8 -nocrypt -in k.pem -out k8.pem",
                id="payments.E011",
            )
        )
    elif private_key and not _loads(serialization.load_pem_private_key, private_key, password=None):
        errors.append(checks.Error("WECHATPAY_PRIVATE_KEY is not a readable private key.", id="payments.E012"))
    apiv3_key = getattr(settings, "WECHATPAY_APIV3_KEY", "") or ""
    if apiv3_key and len(apiv3_key.encode()) != 32:
        errors.append(
            checks.Error(
                "WECHATPAY_APIV3_KEY must be exactly 32 bytes.",
                hint="Copy the APIv3 key (APIv3密钥) from the merchant platform, not the API (v2) key.",
                id="payments.E013",
            )
        )
    return errors


def _wechatpay_verification() -> list[checks.CheckMessage]:
    """WeChat Pay's own key: public-key mode (key + id) or platform certificates in a directory."""
    public_key = getattr(settings, "WECHATPAY_PUBLIC_KEY", "") or ""
    public_key_id = getattr(settings, "WECHATPAY_PUBLIC_KEY_ID", "") or ""
    cert_dir = getattr(settings, "WECHATPAY_CERT_DIR", "") or ""
    if bool(public_key) != bool(public_key_id):
        return [
            checks.Error(
                "WECHATPAY_PUBLIC_KEY and WECHATPAY_PUBLIC_KEY_ID must be set together.",
                hint="Both come from the merchant platform (微信支付公钥 and its PUB_KEY_ID_...).",
                id="payments.E014",
            )
        ]
    if public_key:
        if not _loads(serialization.load_pem_public_key, public_key):
            return [checks.Error("WECHATPAY_PUBLIC_KEY is not a readable PEM public key.", id="payments.E016")]
        return []
    if not cert_dir:
        return [
            checks.Error(
                "WeChat Pay needs WECHATPAY_PUBLIC_KEY and WECHATPAY_PUBLIC_KEY_ID, or WECHATPAY_CERT_DIR.",
                id="payments.E015",
            )
        ]
    from payments.providers.wechat_config import platform_certificates  # loads the SDK

    if not platform_certificates(cert_dir):
        return [
            checks.Warning(
                f"WECHATPAY_CERT_DIR {cert_dir} holds no valid WeChat Pay platform certificate; "
                "notifications cannot be verified.",
                hint="Run: python manage.py fetch_wechatpay_certificates",
                id="payments.W011",
            )
        ]
    return []
