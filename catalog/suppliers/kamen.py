"""Another kamen shop as a supplier, through its /api/v1/ (kamen.client): one kamen sources from another.

Staff make an API key in the member dashboard of the upstream shop (a reseller account there with
wallet balance) and enter the shop's address, the key and its secret. Product codes are the upstream
Sku ids. The upstream shop pays each order from that wallet at once and tells us by a signed webhook
when the order ends; the webhook only triggers a query, whose answer carries the codes.
"""

import json
from decimal import Decimal

from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from kamen.client import ApiError, ApiUnavailable, KamenClient, verify_webhook

from .base import (
    BaseSupplierAdapter,
    CallbackRejected,
    ProductKind,
    PurchaseRequest,
    PurchaseState,
    SupplierRefused,
    SupplierUnavailable,
    UpstreamCode,
    UpstreamOrder,
    UpstreamOrderNotFound,
    UpstreamProduct,
)

# The upstream order's status, in the terms of the contract. A failed delivery there waits for its
# staff (they deliver by hand or refund): it stays processing here and is never bought elsewhere.
STATES = {
    "pending_payment": PurchaseState.PROCESSING,
    "paid": PurchaseState.PROCESSING,
    "awaiting_manual": PurchaseState.PROCESSING,
    "delivery_failed": PurchaseState.PROCESSING,
    "delivered": PurchaseState.DELIVERED,
    "cancelled": PurchaseState.FAILED,
    "expired": PurchaseState.FAILED,
}
MAX_PAGES = 100


class KamenAdapter(BaseSupplierAdapter):
    code = "kamen"
    verbose_name = _("Another kamen shop (/api/v1/)")
    calls_back = True

    def __init__(self, config) -> None:
        super().__init__(config)
        self.client = KamenClient(config.base_url, key=config.account, secret=config.secret, timeout=config.timeout)

    def list_products(self) -> list[UpstreamProduct]:
        listed = []
        for page in range(1, MAX_PAGES + 1):
            answer = self._call(self.client.products, page=page)
            for product in answer["results"]:
                listed += [self._product(product, sku) for sku in product["skus"]]
            if not answer.get("next"):
                break
        return listed

    @staticmethod
    def _product(product: dict, sku: dict) -> UpstreamProduct:
        return UpstreamProduct(
            code=str(sku["id"]),
            name=f"{product['title']} {sku['name']}",
            cost=Decimal(sku["price"]),
            stock=sku["stock"],
            kind=ProductKind.DIRECT if product["buyer_fields"] else ProductKind.CARD,
            available=sku["availability"] != "out_of_stock",
            face_value=Decimal(sku["retail_price"]),
        )

    def balance(self) -> Decimal:
        return Decimal(self._call(self.client.balance)["balance"])

    def place_order(self, request: PurchaseRequest) -> UpstreamOrder:
        answer = self._call(
            self.client.create_order,
            sku=int(request.product_code),
            quantity=request.quantity,
            client_order_no=request.key,
            callback_url=self.config.callback_url,
            # The upstream shop takes answers keyed by its field labels, which are the product's own.
            buyer_input=request.buyer_input or None,
        )
        return self._order(request.key, answer)

    def query_order(self, key: str) -> UpstreamOrder:
        try:
            answer = self._call(self.client.order_by_client_no, key)
        except SupplierRefused as refused:
            if refused.code == "NOT_FOUND":
                raise UpstreamOrderNotFound(str(refused)) from None
            raise
        return self._order(key, answer)

    @staticmethod
    def _order(key: str, answer: dict) -> UpstreamOrder:
        state = STATES.get(answer["status"], PurchaseState.PROCESSING)
        if answer.get("refund_status") == "refunded" and state != PurchaseState.DELIVERED:
            state = PurchaseState.FAILED
        return UpstreamOrder(
            key=key,
            state=state,
            supplier_order_no=answer["number"],
            codes=tuple(UpstreamCode(secret=c["secret"], card_no=c.get("card_no", "")) for c in answer["codes"]),
            cost=Decimal(answer["total"]),
            message=answer.get("delivery_note", "") if state != PurchaseState.DELIVERED else "",
        )

    def parse_callback(self, request: HttpRequest) -> UpstreamOrder:
        try:
            event = verify_webhook(self.config.secret, headers=request.headers, body=request.body)
            order = event["order"]
            key = str(order["client_order_no"])
            status = str(order["status"])
        except (ValueError, KeyError, TypeError, json.JSONDecodeError) as error:
            raise CallbackRejected(str(error)) from None
        return UpstreamOrder(
            key=key, state=STATES.get(status, PurchaseState.PROCESSING), supplier_order_no=order.get("number", "")
        )

    @staticmethod
    def _call(method, *args, **kwargs) -> dict:
        try:
            return method(*args, **kwargs)
        except ApiUnavailable as error:
            raise SupplierUnavailable(str(error), sent=error.sent) from None
        except ApiError as error:
            raise SupplierRefused(error.message or error.code, code=error.code) from None
