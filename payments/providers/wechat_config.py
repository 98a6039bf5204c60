"""微信支付 set-up: the WECHATPAY_* configuration, platform certificates on disk and the SDK client.

Shared by the provider, the start-up checks and `fetch_wechatpay_certificates`.
"""

from dataclasses import dataclass, fields
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path

from cryptography import x509
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from wechatpayv3 import WeChatPay, WeChatPayType

TIMEOUT = (5, 15)  # connect, read (seconds)


@dataclass(frozen=True)
class WeChatPayConfig:
    """The WECHATPAY_* settings, read afresh on every call so a changed setting takes effect at once."""

    mchid: str
    appid: str
    apiv3_key: str
    cert_serial_no: str
    private_key: str
    public_key: str
    public_key_id: str
    cert_dir: str

    @classmethod
    def from_settings(cls) -> "WeChatPayConfig":
        return cls(*(getattr(settings, f"WECHATPAY_{field.name.upper()}", "") or "" for field in fields(cls)))

    @property
    def public_key_mode(self) -> bool:
        """Newer merchant accounts: WeChat Pay signs with one public key named by its id."""
        return bool(self.public_key and self.public_key_id)

    @property
    def certificate_mode(self) -> bool:
        """Older merchant accounts: WeChat Pay signs with platform certificates kept in cert_dir."""
        return not self.public_key_mode and bool(self.cert_dir)

    @property
    def can_verify(self) -> bool:
        """Enough to verify notifications: our ids, the APIv3 key and WeChat Pay's key or certificates."""
        return bool(self.mchid and self.appid and self.apiv3_key) and (self.public_key_mode or self.certificate_mode)

    @property
    def complete(self) -> bool:
        ours = self.mchid and self.appid and self.apiv3_key and self.cert_serial_no and self.private_key
        return bool(ours) and (self.public_key_mode or self.certificate_mode)


def platform_certificates(cert_dir: str) -> dict[int, x509.Certificate]:
    """The currently valid platform certificates in `cert_dir` by serial number, chosen as the SDK does."""
    directory = Path(cert_dir) if cert_dir else None
    if directory is None or not directory.is_dir():
        return {}
    now = datetime.now(UTC)
    found = {}
    for path in directory.iterdir():
        if not path.name.lower().endswith(".pem") or not path.is_file():
            continue
        try:
            certificate = x509.load_pem_x509_certificate(path.read_bytes())
        except (OSError, ValueError):
            continue
        if certificate.not_valid_before_utc <= now <= certificate.not_valid_after_utc:
            found[certificate.serial_number] = certificate
    return found


def serial_hex(serial_number: int) -> str:
    """A certificate serial as WeChat Pay writes it in Wechatpay-Serial: uppercase hex."""
    return f"{serial_number:X}"


def new_client(config: WeChatPayConfig) -> WeChatPay:
    """A WeChatPay SDK client for `config`. In certificate mode with no valid certificate on disk the
    SDK downloads them here (a call to WeChat Pay)."""
    if "-----BEGIN PRIVATE KEY-----" not in config.private_key:
        # The SDK wraps whatever it gets in PKCS#8 armour and fails with "failed to load private key".
        raise ImproperlyConfigured(
            "WECHATPAY_PRIVATE_KEY must be a PKCS#8 PEM key (BEGIN PRIVATE KEY); convert a PKCS#1 key with "
            "openssl pkcs8 -topk8 -nocrypt -in key.pem -out apiclient_key.pem"
        )
    if config.public_key_mode:
        keys = {"public_key": config.public_key, "public_key_id": config.public_key_id}
    else:
        keys = {"cert_dir": config.cert_dir}
    return WeChatPay(
        wechatpay_type=WeChatPayType.NATIVE,
        mchid=config.mchid,
        private_key=config.private_key,
        cert_serial_no=config.cert_serial_no,
        appid=config.appid,
        apiv3_key=config.apiv3_key,
        timeout=TIMEOUT,
        **keys,
    )


@lru_cache(maxsize=4)
def cached_client(config: WeChatPayConfig, certificate_serials: frozenset[int]) -> WeChatPay:
    # Loading and validating the RSA keys takes about 0.1 s, so a client is kept per configuration;
    # the certificate serials on disk are part of the key so a newly fetched certificate is loaded.
    return new_client(config)
