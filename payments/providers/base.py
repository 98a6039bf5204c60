"""The contract every payment provider keeps.

A provider is a class named by dotted path in settings.PAYMENT_PROVIDERS. Checkout calls `start` to
send the shopper on; the gateway's server calls back at /payments/<code>/notify/, where
`parse_notification` verifies everything before anything is believed; `payments.services` does the
rest (storing the notification, confirming the payment exactly once, refunds, reconciliation).

Gateway providers also answer `query` (the beat job asks about payments whose notification never
came), `close` (an expired order's trade is closed so it cannot be paid any more) and `refund`.
"""

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING

from django.http import HttpRequest, HttpResponse

if TYPE_CHECKING:
    from accounts.models import User
    from payments.models import Payment, Refund


PHONE_MARKERS = ("Mobile", "Android", "iPhone")


def is_phone_browser(request: HttpRequest) -> bool:
    """Whether the shopper is on a phone: gateways have a separate phone-browser flow (wap / H5)."""
    user_agent = request.headers.get("User-Agent", "")
    return any(marker in user_agent for marker in PHONE_MARKERS)


class NotificationRejected(Exception):
    """The notification is forged, tampered, stale or malformed; it changes nothing."""


class GatewayError(Exception):
    """A call to the gateway failed or was refused; nothing changed on our side. Safe to try again."""


@dataclass(frozen=True)
class PaymentAction:
    """What the shopper's browser does after checkout.

    kind "redirect": go to `url` (a gateway page, or our own sandbox page);
    kind "qr": show `qr_content` as a QR code on our payment page and poll the payment; `url`, if
      set, is a second way to pay in this browser (Alipay page / wap pay, WeChat H5);
    kind "done": nothing to wait for (paid from the wallet), go to `url`.
    """

    kind: str
    url: str = ""
    qr_content: str = ""


@dataclass(frozen=True)
class VerifiedNotification:
    """A verified notification that a payment of ours was paid, in our own terms."""

    trade_no: str
    amount: Decimal
    gateway_trade_no: str
    #: The gateway's id of the account that paid (Alipay `buyer_id`, WeChat `payer.openid`), "" if none.
    payer: str = ""


@dataclass(frozen=True)
class VerifiedRefundNotification:
    """A verified notification about a refund. It never confirms a payment.

    `refund_no` is our refund's idempotency key as the gateway echoes it ("" if it does not);
    `succeeded` is True only when the money has gone back, False when the gateway gave up.
    """

    trade_no: str
    refund_no: str
    succeeded: bool
    gateway_refund_id: str = ""
    message: str = ""


class TradeState(StrEnum):
    """What a gateway query says about one of our trades."""

    #: The money was taken (`TradeStatus.amount` and `gateway_trade_no` are set).
    PAID = "paid"
    #: Not paid yet, or the shopper has not opened it yet; ask again later.
    WAITING = "waiting"
    #: Closed or never to be paid; nothing more will happen to it.
    CLOSED = "closed"


@dataclass(frozen=True)
class TradeStatus:
    state: TradeState
    amount: Decimal | None = None
    gateway_trade_no: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "state", TradeState(self.state))  # an unknown state is a bug: ValueError


class RefundOutcome(StrEnum):
    """What the gateway said about a refund."""

    #: The money has gone back.
    SUCCEEDED = "succeeded"
    #: Accepted; the gateway has not finished it yet.
    PROCESSING = "processing"
    #: Refused for good; nothing moved.
    FAILED = "failed"


@dataclass(frozen=True)
class RefundResult:
    state: RefundOutcome
    gateway_refund_id: str = ""
    message: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "state", RefundOutcome(self.state))


class BasePaymentProvider:
    """Base class of payment providers; hooks below document what each must do."""

    #: Short identifier used in URLs and stored on payments (`sandbox`, `balance`, `alipay`, ...).
    code: str = ""
    #: Name shown to shoppers at checkout.
    verbose_name: str = ""
    #: Whether this provider needs a signed-in user (wallet payments do).
    requires_login: bool = False
    #: Whether a shopper can come back to pay later (the order page's "Pay now"), and top up with it.
    resumable: bool = False
    #: Whether the beat job queries and closes this provider's pending trades.
    reconciles: bool = False
    #: The gateway refuses to close a trade younger than this.
    close_not_before: timedelta = timedelta(0)

    def is_available(self, *, user: "User | None") -> bool:
        """Whether this provider may be offered to `user` (None for a guest) right now."""
        return not self.requires_login or user is not None

    def status_lines(self) -> list[str]:
        """Short facts for staff about how this provider is set up (mode, ids); never secrets."""
        return []

    def start(self, payment: "Payment", *, request: HttpRequest) -> PaymentAction:
        """Begin paying `payment`: build the gateway redirect, QR content or pay at once.

        Called at checkout and again whenever a shopper reopens the payment page, so it must name
        the same gateway trade each time. Must not mark anything paid unless the money has
        certainly moved (wallet payments); every other provider waits for `parse_notification`
        or `query`. Raises GatewayError when the gateway cannot be reached.
        """
        raise NotImplementedError

    def parse_notification(self, request: HttpRequest) -> VerifiedNotification | VerifiedRefundNotification:
        """Verify an incoming notification completely or raise NotificationRejected.

        Checks: signature with our configured key (an empty key never verifies), our app / merchant
        id, single-valued well-formed parameters, freshness, a success status. The amount is returned
        for `confirm_payment` to compare exactly with the payment. Refund notifications come back as
        VerifiedRefundNotification and are never taken for a payment.
        """
        raise NotificationRejected("this provider receives no notifications")

    def notification_response(self, *, accepted: bool, message: str = "") -> HttpResponse:
        """The exact reply the gateway expects; a refusal makes the gateway send again later."""
        if accepted:
            return HttpResponse("success", content_type="text/plain")
        return HttpResponse("fail", status=400, content_type="text/plain")

    def query(self, payment: "Payment") -> TradeStatus:
        """Ask the gateway whether `payment` was paid. Raises GatewayError when it cannot tell."""
        raise NotImplementedError

    def close(self, payment: "Payment") -> None:
        """Close the gateway trade so it can no longer be paid. A trade that never reached the
        gateway counts as closed. Raises GatewayError otherwise (for one, when it was paid meanwhile).
        """
        raise NotImplementedError

    def refund(self, refund: "Refund") -> RefundResult:
        """Send `refund` back to the payer's original account, keyed by `refund.refund_no`.

        Sending the same refund again must never move money twice: gateways treat the refund number
        as an idempotency key. SUCCEEDED only when money has moved; raises GatewayError when the
        outcome is unknown (timeout), so the caller may ask again with the same number.
        """
        raise NotImplementedError

    def query_refund(self, refund: "Refund") -> RefundResult:
        """Ask the gateway how a PROCESSING refund ended. Raises GatewayError when it cannot tell."""
        raise NotImplementedError
