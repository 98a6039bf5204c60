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
