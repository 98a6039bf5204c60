"""The contract every payment provider keeps.

A provider is a class named by dotted path in settings.PAYMENT_PROVIDERS. Checkout calls `start` to
send the shopper on; the gateway's server calls back at /payments/<code>/notify/, where
`parse_notification` verifies everything before anything is believed; `payments.services` does the
rest (storing the notification, confirming the payment exactly once).
"""

from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from django.http import HttpRequest, HttpResponse

if TYPE_CHECKING:
    from accounts.models import User
    from payments.models import Payment


class NotificationRejected(Exception):
    """The notification is forged, tampered, stale or malformed; it changes nothing."""


@dataclass(frozen=True)
class PaymentAction:
    """What the shopper's browser does after checkout.

    kind "redirect": go to `url` (a gateway page, or our own sandbox page);
    kind "qr": show `qr_content` as a QR code on our page and poll the order;
    kind "done": nothing to wait for (paid from the wallet), go to `url`.
    """

    kind: str
    url: str = ""
    qr_content: str = ""


@dataclass(frozen=True)
class VerifiedNotification:
    """What a verified notification says happened, in our own terms."""

    trade_no: str
    amount: Decimal
    gateway_trade_no: str


class BasePaymentProvider:
    """Base class of payment providers; hooks below document what each must do."""

    #: Short identifier used in URLs and stored on payments (`sandbox`, `balance`, `alipay`, ...).
    code: str = ""
    #: Name shown to shoppers at checkout.
    verbose_name: str = ""
    #: Whether this provider needs a signed-in user (wallet payments do).
    requires_login: bool = False

    def is_available(self, *, user: "User | None") -> bool:
        """Whether this provider may be offered to `user` (None for a guest) right now."""
        return not self.requires_login or user is not None

    def start(self, payment: "Payment", *, request: HttpRequest) -> PaymentAction:
        """Begin paying `payment`: build the gateway redirect, QR content or pay at once.

        Must not mark anything paid unless the money has certainly moved (wallet payments); every
        other provider waits for `parse_notification` or a gateway query.
        """
        raise NotImplementedError

    def parse_notification(self, request: HttpRequest) -> VerifiedNotification:
        """Verify an incoming notification completely or raise NotificationRejected.

        Checks: signature with our configured key (an empty key never verifies), our app / merchant
        id, single-valued well-formed parameters, freshness, a success status. The amount is returned
        for `confirm_payment` to compare exactly with the payment.
        """
        raise NotificationRejected("this provider receives no notifications")

    def notification_response(self, *, accepted: bool, message: str = "") -> HttpResponse:
        """The exact reply the gateway expects; a refusal makes the gateway send again later."""
        if accepted:
            return HttpResponse("success", content_type="text/plain")
        return HttpResponse("fail", status=400, content_type="text/plain")
