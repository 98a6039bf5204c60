"""福禄开放平台 (Fulu open platform, API 2.0): card codes (卡密) and direct top-ups (直充) bought with our
balance there.

Staff enter the gateway (https://openapi.fulu.com/api/getway; the sandbox is
https://pre-openapi.fulu.com/api/getway) as the base URL, the app_key as the account and the app
secret as the secret. Optional `options`: "product_ids", a list of Fulu product ids to read one by
one with fulu.goods.info.get instead of fulu.goods.list.get (the list holds only products on sale,
so a listed product that goes off sale simply vanishes from it); "order_not_found_codes", Fulu error
codes that mean "no order under this customer_order_no" (see below).

What the public SDKs agree on, and where it was checked:

- One gateway, a JSON POST of app_key, method, timestamp (Beijing "yyyy-MM-dd HH:mm:ss"), version
  "2.0", format "json", charset "utf-8", sign_type "md5", app_auth_token "" and biz_content (the
  business parameters as a JSON string), plus sign: songjian/fulusdk src/Fulu.php, lilishop/lilishop
  framework/src/main/java/cn/lili/common/fulu/model/CommonRequest.java.
- The request sign: the JSON of every parameter but sign, its characters sorted, the secret
  appended, md5 in lower-case hex (DefaultOpenApiClient.java doSign in lilishop; getSign in
  songjian/fulusdk; buildSign in ouchangjian/fulu-nodejs-sdk lib.js). Sorting makes key order
  irrelevant; we serialise compactly, without escaping non-ASCII or "/", as PHP's flags 320 and
  JSON.stringify do.
- The answer is {code, message, result, sign}: code 0 is success, result is a JSON string, and sign
  is the same sort-and-md5 over the result string alone (ouchangjian/fulu-nodejs-sdk lib.js doApi,
  whose README example we reproduce in the tests; verify() in the Go SDK of cgghui/recharge_library).
- Methods and fields: fulu.goods.list.get / fulu.goods.info.get (product_id, product_name,
  product_type 卡密/直充, face_value, purchase_price, sales_status 上架/下架/…, stock_status
  断货/警报/充足), fulu.user.info.get (balance), fulu.order.card.add (product_id, buy_num,
  customer_order_no), fulu.order.direct.add (the same plus charge_account), fulu.order.info.get by
  customer_order_no (order_id, order_state success/processing/failed/untreated, order_price as the
  unit price, buy_num, cards): cgghui/recharge_library supplier/fulu/response.go and param.go.
  card.add never answers with the codes; only the query does, once the order succeeded.
- Card numbers and passwords come AES-256-ECB encrypted (PKCS7) with the app secret's bytes as the
  key, base64: CardUtil.java in lilishop (cardDecode), and javareact/fulu-openapi src/Tools/AES.php,
  whose tests/AESTest.php vector we reproduce.
- The callback (order notify) is a POST of order_id, charge_finish_time, customer_order_no,
  order_status (success/failed), recharge_description, product_id, price, buy_num,
  operator_serial_number and sign, the sign being the same sort-and-md5 over the JSON of the other
  fields (javareact/fulu-openapi src/Tools/Sign.php verifySign and tests/SignTest.php, whose vector
  we reproduce); Fulu wants the text "success" back.

Not confirmed from any public source: Fulu's numeric error codes (duplicate customer_order_no,
order not found, bad signature, out of stock, balance short). So nothing here depends on them:
- a refused order is looked up by its key before the refusal is believed, which makes a retried
  place_order idempotent whatever code Fulu answers a duplicate with;
- a refused query means "no such order" when its code is in options["order_not_found_codes"] or its
  message speaks of an order (订单) that does not exist (不存在).
"""

import base64
import contextlib
import hashlib
import hmac
import json
from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import requests
from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext_lazy as _
from urllib3.exceptions import NewConnectionError

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

BEIJING = ZoneInfo("Asia/Shanghai")
PRODUCT_KINDS = {"卡密": ProductKind.CARD, "直充": ProductKind.DIRECT}
ON_SALE = "上架"
OUT_OF_STOCK = "断货"
# "untreated" is an order Fulu accepted and has not started; anything unknown is not final either.
ORDER_STATES = {
    "success": PurchaseState.DELIVERED,
    "processing": PurchaseState.PROCESSING,
    "untreated": PurchaseState.PROCESSING,
    "failed": PurchaseState.FAILED,
}
CALLBACK_STATES = {"success": PurchaseState.DELIVERED, "failed": PurchaseState.FAILED}
CARD_ORDER, DIRECT_ORDER = "fulu.order.card.add", "fulu.order.direct.add"


def fulu_json(value: Any) -> str:
    """JSON as Fulu's SDKs write it: compact, non-ASCII and "/" left as they are."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def fulu_sign(text: str, secret: str) -> str:
    """Fulu's md5 signature of `text`: its characters sorted, the secret appended, lower-case hex."""
    return hashlib.md5(("".join(sorted(text)) + secret).encode("utf-8")).hexdigest()  # noqa: S324 - Fulu's protocol


def sign_params(params: dict[str, Any], secret: str) -> str:
    """The signature of a request or callback: over the JSON of every parameter but `sign`."""
    return fulu_sign(fulu_json({name: value for name, value in params.items() if name != "sign"}), secret)


def signature_valid(received: object, expected: str) -> bool:
    return isinstance(received, str) and hmac.compare_digest(received.encode(), expected.encode())


def decrypt_card(text: str, secret: str) -> str:
    """A card number or password from Fulu: base64 of AES-ECB (PKCS7) under the secret's bytes.
    Raises ValueError when it is not that."""
    data = base64.b64decode(text, validate=True)
    decryptor = Cipher(algorithms.AES(secret.encode("utf-8")), modes.ECB()).decryptor()  # noqa: S305 - Fulu's
    unpadder = padding.PKCS7(algorithms.AES.block_size).unpadder()
    plain = unpadder.update(decryptor.update(data) + decryptor.finalize()) + unpadder.finalize()
    return plain.decode("utf-8")


@contextlib.contextmanager
def _reading(what: str):
    """An answer that does not have the shape Fulu documents is one we cannot read: whatever it
    said may have happened (sent=True)."""
    try:
        yield
    except (KeyError, TypeError, ValueError, ArithmeticError, AttributeError) as error:
        raise SupplierUnavailable(f"Fulu: unreadable {what}: {error!r}", sent=True) from None


def _never_left(error: requests.ConnectionError) -> bool:
    """Whether a connection error happened before a byte of the request was sent: a refused or
    unresolvable connection, or a failed TLS handshake. A connection dropped later ("Connection
    aborted") may have carried the whole request."""
    reason = error.args[0] if error.args else None
    reason = getattr(reason, "reason", reason)  # requests wraps urllib3's MaxRetryError
    return isinstance(reason, NewConnectionError) or isinstance(error, requests.exceptions.SSLError)


def _product_id(code: object) -> int | str:
    # Fulu's examples send product ids as numbers; a code staff typed with letters goes as it is.
    text = str(code).strip()
    return int(text) if text.isascii() and text.isdigit() else text


def _amount(value: object) -> Decimal:
    return Decimal(str(value))


class FuluAdapter(BaseSupplierAdapter):
    """福禄开放平台 API 2.0: `account` is the app_key, `secret` the app secret, `base_url` the gateway."""

    code = "fulu"
    verbose_name = _("Fulu open platform (福禄开放平台)")
    calls_back = True

    def list_products(self) -> list[UpstreamProduct]:
        """fulu.goods.list.get (products on sale), or fulu.goods.info.get for each of
        options["product_ids"]. Fulu gives a stock status, not a count: 断货 is stock 0, the others
        (警报, 充足) are None."""
        product_ids = self.config.options.get("product_ids")
        if product_ids:
            if not isinstance(product_ids, list | tuple):
                raise SupplierRefused('options["product_ids"] must be a list of Fulu product ids')
            return [
                self._product(self._call("fulu.goods.info.get", {"product_id": _product_id(i)})) for i in product_ids
            ]
        listed = self._call("fulu.goods.list.get", {})
        if not isinstance(listed, list):
            raise SupplierUnavailable("Fulu: the goods list is not a list", sent=True)
        return [self._product(item) for item in listed]

    @staticmethod
    def _product(item: dict) -> UpstreamProduct:
        with _reading("product"):
            kind = PRODUCT_KINDS.get(str(item.get("product_type", "")))
            stock_status = str(item.get("stock_status", ""))
            face_value = item.get("face_value")
            return UpstreamProduct(
                code=str(item["product_id"]),
                name=str(item["product_name"]),
                cost=_amount(item["purchase_price"]),
                stock=0 if stock_status == OUT_OF_STOCK else None,
                kind=kind or ProductKind.DIRECT,
                # A type we do not know how to buy (话费, 流量 have their own order methods) is listed off.
                available=kind is not None and str(item.get("sales_status", ON_SALE)) == ON_SALE,
                face_value=_amount(face_value) if face_value not in (None, "") else None,
            )

    def balance(self) -> Decimal:
        """fulu.user.info.get: the balance of our Fulu account, in yuan."""
        answer = self._call("fulu.user.info.get", {})
        with _reading("balance"):
            return _amount(answer["balance"])

    def place_order(self, request: PurchaseRequest) -> UpstreamOrder:
        """fulu.order.direct.add when the buyer named an account (charge_account), otherwise
        fulu.order.card.add; customer_order_no is our key. A refusal is checked against a query by
        the key first, so a retry of an order Fulu already has returns that order. card.add never
        carries the codes: when it answers success, the codes are fetched by a query."""
        direct = bool(request.account)
        biz: dict[str, Any] = {
            "product_id": _product_id(request.product_code),
            "buy_num": request.quantity,
            "customer_order_no": request.key,
        }
        if direct:
            biz["charge_account"] = request.account
        try:
            answer = self._call(DIRECT_ORDER if direct else CARD_ORDER, biz)
        except SupplierRefused as refused:
            return self._existing_order(request.key, refused)
        order = self._order(request.key, answer)
        if order.state == PurchaseState.DELIVERED and not direct and not order.codes:
            try:
                return self.query_order(request.key)
            except (SupplierUnavailable, UpstreamOrderNotFound):
                # Bought, codes not at hand yet: the caller queries again, as for any processing order.
                return replace(order, state=PurchaseState.PROCESSING)
        return order

    def _existing_order(self, key: str, refused: SupplierRefused) -> UpstreamOrder:
        """The order Fulu already holds under `key` (the refusal was of a duplicate), or the refusal."""
        try:
            return self.query_order(key)
        except (UpstreamOrderNotFound, SupplierRefused):
            raise refused from None
        except SupplierUnavailable as error:
            # Refused now, but an earlier attempt under this key may have bought: only a query may follow.
            raise SupplierUnavailable(f"{refused}; the check for an earlier order failed: {error}", sent=True) from None

    def query_order(self, key: str) -> UpstreamOrder:
        """fulu.order.info.get by customer_order_no; the codes of a successful card order, decrypted."""
        try:
            answer = self._call("fulu.order.info.get", {"customer_order_no": key})
        except SupplierRefused as refused:
            if self._means_not_found(refused):
                raise UpstreamOrderNotFound(str(refused)) from None
            raise
        if str(answer.get("customer_order_no", key)) != key:
            raise SupplierUnavailable(f"Fulu: asked for order {key}, answered about another", sent=True)
        return self._order(key, answer)

    def _means_not_found(self, refused: SupplierRefused) -> bool:
        codes = {str(code) for code in self.config.options.get("order_not_found_codes", ())}
        message = str(refused)
        return refused.code in codes or ("订单" in message and "不存在" in message)

    def _order(self, key: str, answer: dict) -> UpstreamOrder:
        with _reading("order"):
            state = ORDER_STATES.get(str(answer["order_state"]), PurchaseState.PROCESSING)
            cards = (answer.get("cards") or ()) if state == PurchaseState.DELIVERED else ()
            codes = tuple(self._code(card) for card in cards)
            price = answer.get("order_price")
            cost = _amount(price) * int(answer["buy_num"]) if price not in (None, "") else None
            return UpstreamOrder(
                key=key,
                state=state,
                supplier_order_no=str(answer.get("order_id") or ""),
                codes=codes,
                cost=None if state == PurchaseState.FAILED else cost,
                message=f"Fulu order_state {answer['order_state']}" if state == PurchaseState.FAILED else "",
            )

    def _code(self, card: dict) -> UpstreamCode:
        number = card.get("card_number") or ""
        return UpstreamCode(
            secret=decrypt_card(card["card_pwd"], self.config.secret),
            card_no=decrypt_card(number, self.config.secret) if number else "",
        )

    def parse_callback(self, request: HttpRequest) -> UpstreamOrder:
        """Fulu's order notify: verified by its sign (our secret), and by app_key when it carries one.

        It reports the final state only; a successful card order comes back DELIVERED without codes,
        and the caller queries for them (no network call here). A replayed genuine callback is not
        refused for its age: it can only repeat a final state Fulu already reached.
        """
        params = self._callback_params(request)
        if not signature_valid(params.get("sign"), sign_params(params, self.config.secret)):
            raise CallbackRejected("Fulu callback: bad signature")
        if params.get("app_key") not in (None, "", self.config.account):
            raise CallbackRejected("Fulu callback: not for our app_key")
        key, status = params.get("customer_order_no"), params.get("order_status")
        if not isinstance(key, str) or not key or status not in CALLBACK_STATES:
            raise CallbackRejected("Fulu callback: no customer_order_no or an unknown order_status")
        state = CALLBACK_STATES[status]
        try:
            cost = _amount(params["price"]) * int(params["buy_num"])
        except (KeyError, TypeError, ValueError, ArithmeticError):
            cost = None
        return UpstreamOrder(
            key=key,
            state=state,
            supplier_order_no=str(params.get("order_id") or ""),
            cost=None if state == PurchaseState.FAILED else cost,
            message=str(params.get("recharge_description") or "") if state == PurchaseState.FAILED else "",
        )

    @staticmethod
    def _callback_params(request: HttpRequest) -> dict[str, Any]:
        """The callback's fields: a JSON object, or a form whose every field appears once."""
        body = request.body.strip()
        if body.startswith(b"{"):
            try:
                params = json.loads(body)
            except ValueError:
                raise CallbackRejected("Fulu callback: malformed JSON") from None
        else:
            form = request.POST
            if any(len(form.getlist(name)) != 1 for name in form):
                raise CallbackRejected("Fulu callback: a field appears more than once")
            params = {name: form[name] for name in form}
        if not isinstance(params, dict) or not params:
            raise CallbackRejected("Fulu callback: no fields")
        return params

    def callback_response(self, *, accepted: bool) -> HttpResponse:
        """Fulu stops re-sending once it reads the text "success"."""
        return HttpResponse("success" if accepted else "fail", content_type="text/plain", status=200)

    # The gateway

    def _call(self, method: str, biz: dict[str, Any]) -> Any:
        """One signed call; the answer's result, parsed, once its signature is Fulu's."""
        params = {
            "app_key": self.config.account,
            "method": method,
            "timestamp": datetime.now(BEIJING).strftime("%Y-%m-%d %H:%M:%S"),
            "version": "2.0",
            "format": "json",
            "charset": "utf-8",
            "sign_type": "md5",
            "app_auth_token": "",
            "biz_content": fulu_json(biz),
        }
        params["sign"] = sign_params(params, self.config.secret)
        try:
            response = requests.post(
                self.config.base_url,
                data=fulu_json(params).encode("utf-8"),
                headers={"Content-Type": "application/json; charset=utf-8"},
                timeout=self.config.timeout,
            )
        except requests.ConnectTimeout as error:
            raise SupplierUnavailable(f"Fulu {method}: {error}", sent=False) from None
        except requests.ConnectionError as error:
            raise SupplierUnavailable(f"Fulu {method}: {error}", sent=not _never_left(error)) from None
        except requests.RequestException as error:  # ReadTimeout and the like: the request was out
            raise SupplierUnavailable(f"Fulu {method}: {error}", sent=True) from None
        return self._result(method, response)

    def _result(self, method: str, response: requests.Response) -> Any:
        if response.status_code != 200:
            raise SupplierUnavailable(f"Fulu {method}: HTTP {response.status_code}", sent=True)
        with _reading(f"answer to {method}"):
            answer = json.loads(response.content)
            code = int(answer["code"])
            message = str(answer.get("message") or "")
        if code != 0:
            # Error answers carry no result to protect, and Fulu may not sign them with a secret it
            # could not match to us; the refusal of an order is checked by a query anyway.
            raise SupplierRefused(message or f"Fulu error {code}", code=str(code))
        result = answer.get("result")
        expected = fulu_sign(result, self.config.secret) if isinstance(result, str) else ""
        if not expected or not signature_valid(answer.get("sign"), expected):
            raise SupplierUnavailable(f"Fulu {method}: the answer is not signed with our secret", sent=True)
        with _reading(f"result of {method}"):
            return json.loads(result, parse_float=Decimal)
