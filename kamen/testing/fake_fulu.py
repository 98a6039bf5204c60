"""A fake 福禄开放平台 gateway on loopback, with an app_key and secret the test makes.

It speaks Fulu's API 2.0 as its public SDKs describe it (see catalog/suppliers/fulu.py): one JSON
POST per call, signed by sorting the characters of the parameters' JSON and md5-ing them with the
secret; answers {code, message, result, sign} signed the same way over `result`; card codes AES-ECB
encrypted under the secret. Signing and encryption are written here again, not imported from the
adapter, so a mistake in one shows in the other.

Fulu's numeric error codes are not published where we could read them: the CODE_* numbers below are
this fake's own, chosen so tests can tell the refusals apart. The adapter depends on none of them.

Knobs: `down` (the port refuses connections), `slow_seconds` (the call is carried out, then the
answer waits), `drop_after_read` (the request is read and carried out, the connection closed
unanswered), `http_status` (answer with that status), `error_code`/`error_message` (every call is
answered with that error), `processing` (new orders stay processing until `finish(order_no)`),
`answer_secret` (sign answers with another secret, as a forger would).

Tests use the `fake_fulu` fixture: `from kamen.testing.fake_fulu import fake_fulu  # noqa: F401`.
"""

import base64
import hashlib
import hmac
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from zoneinfo import ZoneInfo

import pytest
from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from catalog.suppliers.base import SupplierConfig

CODE_BAD_REQUEST = 1001
CODE_BAD_APP_KEY = 1002
CODE_BAD_SIGN = 1003
CODE_NO_PRODUCT = 3001
CODE_OUT_OF_STOCK = 3003
CODE_BALANCE_SHORT = 3101
CODE_DUPLICATE_ORDER = 3102
CODE_ORDER_NOT_FOUND = 3103
BEIJING = ZoneInfo("Asia/Shanghai")
GATEWAY_PATH = "/api/getway"  # sic: Fulu's own spelling
CALLBACK_PATH = "/suppliers/1/notify/"


def fulu_md5(text: str, secret: str) -> str:
    return hashlib.md5(("".join(sorted(text)) + secret).encode("utf-8")).hexdigest()  # noqa: S324 - Fulu's


def compact(value) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def encrypt_card(plain: str, secret: str) -> str:
    padder = padding.PKCS7(128).padder()
    data = padder.update(plain.encode("utf-8")) + padder.finalize()
    encryptor = Cipher(algorithms.AES(secret.encode("utf-8")), modes.ECB()).encryptor()  # noqa: S305 - Fulu's
    return base64.b64encode(encryptor.update(data) + encryptor.finalize()).decode("ascii")


def beijing_now() -> str:
    return datetime.now(BEIJING).strftime("%Y-%m-%d %H:%M:%S")


class FuluError(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class FakeProduct:
    product_id: int
    name: str
    price: Decimal
    stock: int | None = None  # None: unlimited (直充 mostly)
    kind: str = "card"  # "card" (卡密) or "direct" (直充)
    face_value: Decimal | None = None
    on_sale: bool = True

    def as_fulu(self) -> dict:
        # Fulu tells a status, never a count: out, low, or plenty.
        stock_status = {None: "充足", 0: "断货"}.get(self.stock, "警报" if (self.stock or 0) <= 10 else "充足")
        return {
            "product_id": self.product_id,
            "product_name": self.name,
            "product_type": "卡密" if self.kind == "card" else "直充",
            "face_value": float(self.face_value if self.face_value is not None else self.price),
            "purchase_price": float(self.price),
            "sales_status": "上架" if self.on_sale else "下架",
            "stock_status": stock_status,
            "template_id": "",
            "details": "",
        }


@dataclass
class FakeOrder:
    order_id: str
    customer_order_no: str
    product: FakeProduct
    buy_num: int
    charge_account: str = ""
    state: str = "success"
    cards: list[tuple[str, str]] = field(default_factory=list)  # (card number, password), in clear
    create_time: str = field(default_factory=beijing_now)
    finish_time: str = ""


class FakeFulu:
    """The fake gateway's state, its knobs, and helpers to build what Fulu would send."""

    def __init__(self, *, balance: Decimal = Decimal("1000.00")) -> None:
        self.app_key = base64.b64encode(secrets.token_bytes(48)).decode("ascii")  # 64 chars with + and /
        self.app_secret = secrets.token_hex(16)  # 32 characters: an AES-256 key, as Fulu's are
        self.balance = balance
        self.products: dict[int, FakeProduct] = {}
        self.orders: dict[str, FakeOrder] = {}
        self.calls: list[tuple[str, dict]] = []  # (method, biz_content) of every well-signed call
        self.answers: list[bytes] = []
        self.slow_seconds = 0.0
        self.drop_after_read = False
        self.http_status = 200
        self.error_code: int | None = None
        self.error_message = "模拟错误"
        self.processing = False
        self.answer_secret: str | None = None
        self.port = 0
        self._server: ThreadingHTTPServer | None = None
        self._lock = threading.Lock()
        self._serial = 0

    # Running

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{GATEWAY_PATH}"

    def start(self) -> None:
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), _handler(self))
        self.port = self._server.server_address[1]
        # A short poll so stopping (after every test, and `down`) takes milliseconds, not half a second.
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    @property
    def down(self) -> bool:
        return self._server is None

    @down.setter
    def down(self, value: bool) -> None:
        # Down closes the listening socket: a connection is refused, so no request ever leaves.
        # Back up, the same port listens again.
        if value and self._server is not None:
            self.stop()
        elif not value and self._server is None:
            self.start()

    def config(self, **overrides) -> SupplierConfig:
        """A SupplierConfig for this gateway, with our keys."""
        values = {"base_url": self.url, "account": self.app_key, "secret": self.app_secret, "timeout": 5.0}
        return SupplierConfig(**(values | overrides))

    # Test data

    def add_product(self, product_id: int, name: str, price: str, **fields) -> FakeProduct:
        product = FakeProduct(product_id=product_id, name=name, price=Decimal(price), **fields)
        self.products[product_id] = product
        return product

    def finish(self, customer_order_no: str, *, success: bool = True) -> FakeOrder:
        """End a processing order: deliver it, or fail it and refund it, as Fulu would."""
        with self._lock:
            order = self.orders[customer_order_no]
            order.finish_time = beijing_now()
            if success:
                order.state = "success"
            else:
                order.state = "failed"
                order.cards = []
                self.balance += order.product.price * order.buy_num
            return order

    def callback_body(self, customer_order_no: str, **overrides) -> dict:
        """The fields Fulu posts when the order ends, signed with our secret; `overrides` are applied
        before signing (pass sign=... to forge one)."""
        order = self.orders[customer_order_no]
        forged_sign = overrides.pop("sign", None)
        body = {
            "order_id": order.order_id,
            "charge_finish_time": order.finish_time or beijing_now(),
            "customer_order_no": order.customer_order_no,
            "order_status": "success" if order.state == "success" else "failed",
            "recharge_description": "充值成功" if order.state == "success" else "充值失败",
            "product_id": str(order.product.product_id),
            "price": f"{order.product.price:.4f}",
            "buy_num": str(order.buy_num),
            "operator_serial_number": "--",
            **overrides,
        }
        body["sign"] = forged_sign or fulu_md5(compact(body), self.app_secret)
        return body

    def callback_request(self, customer_order_no: str, **overrides):
        """A Django request carrying the callback as Fulu sends it (a JSON POST)."""
        from django.test import RequestFactory

        body = self.callback_body(customer_order_no, **overrides)
        return RequestFactory().post(CALLBACK_PATH, data=compact(body), content_type="application/json")

    # The protocol

    def handle(self, raw: bytes) -> dict:
        """One gateway call: the answer envelope Fulu would send."""
        try:
            method, biz = self._verified(raw)
            if self.error_code is not None:
                raise FuluError(self.error_code, self.error_message)
            result = self._dispatch(method, biz)
        except FuluError as error:
            return {"code": error.code, "message": error.message, "result": "", "sign": self._sign("")}
        text = compact(result)
        return {"code": 0, "message": "接口调用成功", "result": text, "sign": self._sign(text)}

    def _sign(self, text: str) -> str:
        return fulu_md5(text, self.answer_secret or self.app_secret)

    def _verified(self, raw: bytes) -> tuple[str, dict]:
        try:
            params = json.loads(raw)
            received = params.pop("sign")
            biz = json.loads(params["biz_content"])
            method = params["method"]
            datetime.strptime(params["timestamp"], "%Y-%m-%d %H:%M:%S")
        except (ValueError, KeyError, TypeError, AttributeError):
            raise FuluError(CODE_BAD_REQUEST, "参数错误") from None
        fixed = {"version": "2.0", "format": "json", "charset": "utf-8", "sign_type": "md5", "app_auth_token": ""}
        if any(params.get(name) != value for name, value in fixed.items()) or not isinstance(biz, dict):
            raise FuluError(CODE_BAD_REQUEST, "参数错误")
        if params.get("app_key") != self.app_key:
            raise FuluError(CODE_BAD_APP_KEY, "无效的app_key")
        if not hmac.compare_digest(str(received).encode(), fulu_md5(compact(params), self.app_secret).encode()):
            raise FuluError(CODE_BAD_SIGN, "签名错误")
        with self._lock:
            self.calls.append((method, biz))
        return method, biz

    def _dispatch(self, method: str, biz: dict):
        with self._lock:
            if method == "fulu.user.info.get":
                return {"name": "测试商户", "balance": float(self.balance), "is_open": 1}
            if method == "fulu.goods.list.get":
                return [product.as_fulu() for product in self.products.values() if product.on_sale]
            if method == "fulu.goods.info.get":
                return self._product(biz.get("product_id")).as_fulu()
            if method in ("fulu.order.card.add", "fulu.order.direct.add"):
                return self._order_fields(self._add_order(method == "fulu.order.direct.add", biz), with_cards=False)
            if method == "fulu.order.info.get":
                order = self.orders.get(str(biz.get("customer_order_no")))
                if order is None:
                    raise FuluError(CODE_ORDER_NOT_FOUND, "订单不存在")
                return self._order_fields(order, with_cards=True)
        raise FuluError(CODE_BAD_REQUEST, "无效的接口名称")

    def _product(self, product_id) -> FakeProduct:
        try:
            return self.products[int(product_id)]
        except (KeyError, TypeError, ValueError):
            raise FuluError(CODE_NO_PRODUCT, "商品不存在") from None

    def _add_order(self, direct: bool, biz: dict) -> FakeOrder:
        key, product = str(biz.get("customer_order_no") or ""), self._product(biz.get("product_id"))
        buy_num, account = biz.get("buy_num"), str(biz.get("charge_account") or "")
        if not key or not isinstance(buy_num, int) or buy_num < 1 or (direct and not account):
            raise FuluError(CODE_BAD_REQUEST, "参数错误")
        if key in self.orders:
            raise FuluError(CODE_DUPLICATE_ORDER, "外部订单号已存在")
        if not product.on_sale or product.kind != ("direct" if direct else "card"):
            raise FuluError(CODE_NO_PRODUCT, "商品不可购买")
        if product.stock is not None and product.stock < buy_num:
            raise FuluError(CODE_OUT_OF_STOCK, "库存不足")
        if self.balance < product.price * buy_num:
            raise FuluError(CODE_BALANCE_SHORT, "余额不足")
        self.balance -= product.price * buy_num
        if product.stock is not None:
            product.stock -= buy_num
        self._serial += 1
        order = FakeOrder(
            order_id=f"{datetime.now(BEIJING):%y%m%d}{self._serial:012d}",
            customer_order_no=key,
            product=product,
            buy_num=buy_num,
            charge_account=account,
            state="processing" if self.processing else "success",
        )
        if not direct:
            order.cards = [(f"FL{self._serial:06d}{n:04d}", secrets.token_urlsafe(12)) for n in range(buy_num)]
        if order.state == "success":
            order.finish_time = beijing_now()
        self.orders[key] = order
        return order

    def _order_fields(self, order: FakeOrder, *, with_cards: bool) -> dict:
        fields = {
            "order_id": order.order_id,
            "customer_order_no": order.customer_order_no,
            "product_id": order.product.product_id,
            "product_name": order.product.name,
            "charge_account": order.charge_account,
            "buy_num": order.buy_num,
            "order_type": 4 if order.product.kind == "direct" else 3,
            "order_price": float(order.product.price),
            "order_state": order.state,
            "create_time": order.create_time,
            "finish_time": order.finish_time,
            "operator_serial_number": "",
        }
        # The query carries the codes, and only once the order succeeded.
        if with_cards and order.state == "success" and order.cards:
            fields["cards"] = [
                {
                    "card_number": encrypt_card(number, self.app_secret),
                    "card_pwd": encrypt_card(password, self.app_secret),
                    "card_type": "0",
                    "card_deadline": "2099-12-31 23:59:59",
                }
                for number, password in order.cards
            ]
        return fields


def _handler(fake: FakeFulu):
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server's name
            raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            answer = fake.handle(raw)
            if fake.drop_after_read:
                self.close_connection = True
                return
            if fake.slow_seconds:
                time.sleep(fake.slow_seconds)
            data = compact(answer).encode("utf-8")
            fake.answers.append(data)
            try:
                self.send_response(fake.http_status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up waiting (slow_seconds beyond its timeout)

        def log_message(self, *args):
            pass

    return Handler


@pytest.fixture
def fake_fulu():
    """A running fake Fulu gateway with fresh keys, stopped after the test."""
    fake = FakeFulu()
    fake.start()
    yield fake
    fake.stop()
