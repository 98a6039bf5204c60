"""The contract every upstream supplier adapter keeps (对接上游).

An adapter is a class named by dotted path in settings.SUPPLIER_ADAPTERS and looked up by its `code`.
Staff configure a Supplier in admin (adapter, base URL, account, secret, options); each call gets a
fresh adapter built from that Supplier's `SupplierConfig`. The rest of the shop speaks only these
hooks and the small dataclasses below:

- the beat job's sync calls `list_products` (and `balance`) every few minutes;
- delivery of a paid order calls `place_order` once per (order, supplier) with our idempotency key,
  outside every row lock, then `query_order` with that key until the purchase is final;
- the supplier's server calls back at /suppliers/<id>/notify/, where `parse_callback` verifies
  everything before anything is believed, and `callback_response` answers in the supplier's terms.

Errors tell apart what a caller does next:

- `SupplierUnavailable(sent=False)`: the request never reached the supplier (refused connection,
  DNS, connect timeout). Nothing was bought; fail over, retry later.
- `SupplierUnavailable(sent=True)`: the request may have arrived (read timeout, a 5xx, an answer we
  cannot read). Whether it bought anything is unknown: ask `query_order` with the same key, never
  order again.
- `SupplierRefused`: the supplier answered no (out of stock, its balance is short, the product is off,
  the account is wrong). Nothing was bought; fail over to the next supplier.
- `UpstreamOrderNotFound` from `query_order`: the supplier has no order under our key, so it never
  bought anything.

A new adapter is one module: subclass `BaseSupplierAdapter`, set `code` and `verbose_name`, implement
the hooks, add its dotted path to SUPPLIER_ADAPTERS. `catalog/suppliers/kamen.py` and `fulu.py` are
the two shipped.
"""

from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum

from django.http import HttpRequest, HttpResponse


class SupplierError(Exception):
    """Base of what an adapter raises; `message` is for staff, in the supplier's words where it had any."""


class SupplierUnavailable(SupplierError):
    """The call failed in a way that may pass. `sent` says whether the request may have reached the
    supplier (then only a query may follow, never a second order)."""

    def __init__(self, message: str, *, sent: bool) -> None:
        super().__init__(message)
        self.sent = sent


class SupplierRefused(SupplierError):
    """The supplier answered no; nothing was bought. `code` is the supplier's own error code, if any."""

    def __init__(self, message: str, *, code: str = "") -> None:
        super().__init__(message)
        self.code = code


class UpstreamOrderNotFound(SupplierError):
    """`query_order`: the supplier has no order under this key."""


class CallbackRejected(Exception):
    """A callback that is forged, tampered, stale or malformed; it changes nothing."""


@dataclass(frozen=True)
class SupplierConfig:
    """What staff entered for one supplier; `secret` is decrypted, never logged."""

    base_url: str
    account: str  # the supplier's name for us: app key, API key id, member id
    secret: str  # what we sign with: app secret, API secret
    options: dict = field(default_factory=dict)  # adapter-specific extras (e.g. a member code)
    timeout: float = 10.0
    callback_url: str = ""  # where the supplier calls us back, when it does


class ProductKind(StrEnum):
    CARD = "card"  # the supplier returns card codes (卡密)
    DIRECT = "direct"  # the supplier tops up an account the buyer names (直充); nothing to show


@dataclass(frozen=True)
class UpstreamProduct:
    """One product as the supplier lists it."""

    code: str  # the supplier's product id, as `place_order` wants it
    name: str
    cost: Decimal  # what one piece costs us, in yuan
    stock: int | None  # pieces the supplier can sell now; None when it does not say (unlimited)
    kind: ProductKind = ProductKind.CARD
    available: bool = True  # False: listed but off sale upstream
    face_value: Decimal | None = None


@dataclass(frozen=True)
class UpstreamCode:
    secret: str
    card_no: str = ""


class PurchaseState(StrEnum):
    DELIVERED = "delivered"  # final: the codes are in `codes` (a direct top-up has none)
    PROCESSING = "processing"  # accepted, not done yet: query again or wait for the callback
    FAILED = "failed"  # final: nothing was bought (the supplier refunded or never charged)


@dataclass(frozen=True)
class PurchaseRequest:
    key: str  # our idempotency key: one purchase per key however often it is sent
    product_code: str
    quantity: int
    account: str = ""  # for a direct top-up: the account the buyer entered (QQ, phone, game UID)
    buyer_input: dict[str, str] = field(default_factory=dict)  # every input field's answer, by label
    unit_price: Decimal | None = None  # what we expect to pay per piece, for suppliers that check it


@dataclass(frozen=True)
class UpstreamOrder:
    """What the supplier says about one purchase."""

    key: str
    state: PurchaseState
    supplier_order_no: str = ""
    codes: tuple[UpstreamCode, ...] = ()
    cost: Decimal | None = None  # what the supplier charged in all, when it says
    message: str = ""  # the supplier's words on a failure


class BaseSupplierAdapter:
    """Base class of supplier adapters; the hooks' docstrings are the contract."""

    #: Short identifier stored on a Supplier (`kamen`, `fulu`).
    code: str = ""
    #: Name shown to staff.
    verbose_name: str = ""
    #: Whether the supplier calls back when a purchase ends (otherwise only `query_order` tells).
    calls_back: bool = False

    def __init__(self, config: SupplierConfig) -> None:
        self.config = config

    def list_products(self) -> list[UpstreamProduct]:
        """Every product the supplier sells us, with cost and stock. Raises SupplierUnavailable or
        SupplierRefused (credentials wrong)."""
        raise NotImplementedError

    def balance(self) -> Decimal:
        """Our balance (预存款) at the supplier, in yuan."""
        raise NotImplementedError

    def place_order(self, request: PurchaseRequest) -> UpstreamOrder:
        """Buy `request.quantity` of `request.product_code` under `request.key`.

        Sent twice with one key, the supplier must not buy twice (it answers with the first purchase
        or refuses the duplicate; either way `query_order(key)` tells the truth). Returns the state the
        supplier answered with; raises SupplierRefused (nothing bought) or SupplierUnavailable.
        """
        raise NotImplementedError

    def query_order(self, key: str) -> UpstreamOrder:
        """The purchase made under `key`. Raises UpstreamOrderNotFound if there is none, or
        SupplierUnavailable."""
        raise NotImplementedError

    def parse_callback(self, request: HttpRequest) -> UpstreamOrder:
        """Verify a callback from the supplier (signature, our account, freshness) and say what it
        reports, or raise CallbackRejected. Adapters that never call back keep this default."""
        raise CallbackRejected(f"{self.code} does not call back")

    def callback_response(self, *, accepted: bool) -> HttpResponse:
        """The answer the supplier expects to a callback, so it stops (accepted) or tries again."""
        return HttpResponse("success" if accepted else "fail", content_type="text/plain", status=200)
