"""Download WeChat Pay's platform certificates into WECHATPAY_CERT_DIR (certificate mode only).

Notifications are verified only against certificates already in that directory, so run this once at
set-up and again regularly (daily is plenty): WeChat Pay issues a new certificate before the old one
expires. The certificates arrive encrypted with our APIv3 key, which is what makes them trustworthy.
"""

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError

from payments.providers.wechat_config import WeChatPayConfig, new_client, platform_certificates, serial_hex


class Command(BaseCommand):
    help = "Download WeChat Pay platform certificates into WECHATPAY_CERT_DIR and list the valid ones."

    def handle(self, *args, **options) -> None:
        config = WeChatPayConfig.from_settings()
        if config.public_key_mode:
            self.stdout.write(f"Public-key mode (key id {config.public_key_id}): no platform certificates needed.")
            return
        if not config.cert_dir:
            raise CommandError("Set WECHATPAY_CERT_DIR (certificate mode) or WECHATPAY_PUBLIC_KEY and _ID.")
        before = platform_certificates(config.cert_dir)
        self._fetch(config, refresh=bool(before))
        after = platform_certificates(config.cert_dir)
        if not after:
            raise CommandError(
                "WeChat Pay returned no valid certificate: check WECHATPAY_MCHID, WECHATPAY_CERT_SERIAL_NO, "
                "WECHATPAY_PRIVATE_KEY and WECHATPAY_APIV3_KEY."
            )
        for serial, certificate in sorted(after.items(), key=lambda item: item[1].not_valid_after_utc):
            new = " (new)" if serial not in before else ""
            until = certificate.not_valid_after_utc
            self.stdout.write(f"{serial_hex(serial)}  valid until {until:%Y-%m-%d %H:%M} UTC{new}")

    def _fetch(self, config: WeChatPayConfig, *, refresh: bool) -> None:
        try:
            # With no valid certificate on disk the SDK downloads and saves them while it is built.
            client = new_client(config)
            if refresh:
                # Otherwise it never asks again by itself; this private call (wechatpayv3 2.0.4) fetches
                # the current list and saves certificates not yet on disk.
                client._core._update_certificates()
        except ImproperlyConfigured as error:
            raise CommandError(str(error)) from error
        except Exception as error:  # requests' errors and the SDK's bare Exception
            raise CommandError(f"Could not fetch certificates from WeChat Pay: {error}") from error
