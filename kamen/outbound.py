"""Addresses the shop calls out to on staff's say-so (alert webhooks): never into its own network."""

import ipaddress
import socket
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _


def check_public_url(url: str, *, allow_private: bool) -> None:
    """Raise ValidationError unless `url` is http(s) to a host whose every address is public."""
    try:
        parts = urlsplit(url)
        port = parts.port  # a port out of range or not a number raises here
    except ValueError:
        raise ValidationError(_("Enter an http:// or https:// address.")) from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValidationError(_("Enter an http:// or https:// address."))
    if allow_private:
        return
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(parts.hostname, port or 443)}
    except (OSError, UnicodeError):
        raise ValidationError(_("The host of this address cannot be found.")) from None
    for address in addresses:
        ip = ipaddress.ip_address(address.split("%")[0])
        if not ip.is_global or ip.is_multicast:
            raise ValidationError(
                _("This address leads into a private network (%(ip)s); allow private addresses to use it.") % {"ip": ip}
            )
