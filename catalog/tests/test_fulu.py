"""The Fulu adapter against a fake Fulu gateway on loopback (kamen.testing.fake_fulu), and against the
vectors Fulu's public SDKs publish."""

import json
from decimal import Decimal

import pytest
from django.test import RequestFactory

from catalog.suppliers import build_adapter
from catalog.suppliers.base import (
    CallbackRejected,
    ProductKind,
    PurchaseRequest,
    PurchaseState,
    SupplierConfig,
    SupplierRefused,
    SupplierUnavailable,
    UpstreamCode,
    UpstreamOrderNotFound,
    UpstreamProduct,
)
from catalog.suppliers.fulu import FuluAdapter, decrypt_card, fulu_sign, sign_params
from kamen.testing.fake_fulu import (
    CODE_BAD_SIGN,
    CODE_BALANCE_SHORT,
    CODE_DUPLICATE_ORDER,
    CODE_OUT_OF_STOCK,
    fake_fulu,  # noqa: F401  (the fixture)
)

# Fulu's sandbox secret, printed in every SDK's examples.
SANDBOX_SECRET = "0a091b3aa4324435aab703142518a8f7"


@pytest.fixture
def fulu(fake_fulu):  # noqa: F811
    """An adapter for the fake, which sells one card product and one direct top-up."""
    fake_fulu.add_product(10000587, "卡密测试商品 10元", "9.50", stock=20, face_value=Decimal("10"))
    fake_fulu.add_product(10000586, "直充测试商品 Q币", "0.98", kind="direct")
    return FuluAdapter(fake_fulu.config())


def card_request(key="K-1", quantity=2, **fields) -> PurchaseRequest:
    return PurchaseRequest(key=key, product_code="10000587", quantity=quantity, **fields)


# The published vectors


def test_answer_signature_matches_the_nodejs_sdk_example():
    # ouchangjian/fulu-nodejs-sdk README.md: fulu.user.info.get in the sandbox, `sign` == `check_sign`.
    result = '{"name":"OpenApi2.0对接专用商户","balance":344283.1608,"is_open":1}'
    assert fulu_sign(result, SANDBOX_SECRET) == "af223d55aaab949a4061d651cc4b2765"


def test_callback_signature_and_card_decryption_match_the_php_sdk_tests():
    # javareact/fulu-openapi tests/SignTest.php (testVerifySign) and tests/AESTest.php.
    callback = {
        "order_id": "19102237851777002017",
        "charge_finish_time": "2019-10-22 20:17:57",
        "customer_order_no": "123456",
        "order_status": "success",
        "recharge_description": "充值成功",
        "product_id": "10000489",
        "price": "50.0000",
        "buy_num": "1",
        "operator_serial_number": "--",
    }
    assert sign_params(callback, SANDBOX_SECRET) == "35d1c3403c42d2df58ed4e37991deee3"
    assert decrypt_card("Gu8k2+8wDXH3zpNv5MIFjZDTK0m1kvm99iBAKIWwQTo=", SANDBOX_SECRET) == "CD1000590202001040006363045"


def test_the_published_callback_is_accepted():
    body = (
        '{"order_id":"19102237851777002017","charge_finish_time":"2019-10-22 20:17:57","customer_order_no":"123456",'
        '"order_status":"success","recharge_description":"充值成功","product_id":"10000489","price":"50.0000",'
        '"buy_num":"1","operator_serial_number":"--","sign":"35d1c3403c42d2df58ed4e37991deee3"}'
    )
    adapter = FuluAdapter(
        SupplierConfig(base_url="https://pre-openapi.fulu.com/api/getway", account="k", secret=SANDBOX_SECRET)
    )
    request = RequestFactory().post("/suppliers/1/notify/", data=body, content_type="application/json")

    order = adapter.parse_callback(request)

    assert (order.key, order.state, order.supplier_order_no) == (
        "123456",
        PurchaseState.DELIVERED,
        "19102237851777002017",
    )
    assert order.cost == Decimal("50.0000")


# Catalogue and balance


def test_products_are_listed_with_cost_stock_and_kind(fake_fulu, fulu):  # noqa: F811
    fake_fulu.add_product(10000600, "已断货", "5.00", stock=0)
    fake_fulu.add_product(10000601, "已下架", "5.00", on_sale=False)

    products = {product.code: product for product in fulu.list_products()}

    assert products["10000587"] == UpstreamProduct(
        code="10000587",
        name="卡密测试商品 10元",
        cost=Decimal("9.5"),
        stock=None,  # Fulu says 充足, not how many
        kind=ProductKind.CARD,
        face_value=Decimal("10.0"),
    )
    assert products["10000586"].kind == ProductKind.DIRECT
    assert products["10000586"].cost == Decimal("0.98")
    assert products["10000600"].stock == 0
    assert "10000601" not in products  # the list holds products on sale only
    assert fake_fulu.calls[-1] == ("fulu.goods.list.get", {})


def test_products_by_id_include_those_off_sale(fake_fulu, fulu):  # noqa: F811
    fake_fulu.add_product(10000601, "已下架", "5.00", on_sale=False)
    adapter = FuluAdapter(fake_fulu.config(options={"product_ids": [10000601, "10000587"]}))

    products = adapter.list_products()

    assert [(p.code, p.available) for p in products] == [("10000601", False), ("10000587", True)]
    assert [call[0] for call in fake_fulu.calls] == ["fulu.goods.info.get"] * 2


def test_balance(fake_fulu, fulu):  # noqa: F811
    fake_fulu.balance = Decimal("344283.16")

    assert fulu.balance() == Decimal("344283.16")


def test_the_adapter_is_registered(fake_fulu):  # noqa: F811
    adapter = build_adapter("fulu", fake_fulu.config())

    assert isinstance(adapter, FuluAdapter)
    assert adapter.calls_back


# Buying


def test_a_card_order_returns_the_decrypted_codes(fake_fulu, fulu):  # noqa: F811
    order = fulu.place_order(card_request(quantity=2))

    bought = fake_fulu.orders["K-1"]
    assert order.state == PurchaseState.DELIVERED
    assert order.codes == tuple(UpstreamCode(secret=password, card_no=number) for number, password in bought.cards)
    assert order.supplier_order_no == bought.order_id
    assert order.cost == Decimal("19.0")
    assert fake_fulu.balance == Decimal("981.00")
    # card.add never carries the codes: they came from the query, encrypted on the wire.
    assert [call[0] for call in fake_fulu.calls] == ["fulu.order.card.add", "fulu.order.info.get"]
    assert not any(bought.cards[0][1].encode() in answer for answer in fake_fulu.answers)


def test_a_direct_top_up_charges_the_account(fake_fulu, fulu):  # noqa: F811
    request = PurchaseRequest(key="K-2", product_code="10000586", quantity=3, account="10001")

    order = fulu.place_order(request)

    assert fake_fulu.calls[-1] == (
        "fulu.order.direct.add",
        {"product_id": 10000586, "buy_num": 3, "customer_order_no": "K-2", "charge_account": "10001"},
    )
    assert fake_fulu.orders["K-2"].charge_account == "10001"
    assert (order.state, order.codes, order.cost) == (PurchaseState.DELIVERED, (), Decimal("2.94"))


def test_a_retried_order_does_not_buy_twice(fake_fulu, fulu):  # noqa: F811
    first = fulu.place_order(card_request())

    again = fulu.place_order(card_request())

    assert len(fake_fulu.orders) == 1
    assert fake_fulu.balance == Decimal("981.00")
    assert again == first
    # Fulu refused the duplicate, and the query by key said what was bought.
    assert [call[0] for call in fake_fulu.calls[-2:]] == ["fulu.order.card.add", "fulu.order.info.get"]
    assert json.loads(fake_fulu.answers[-2])["code"] == CODE_DUPLICATE_ORDER


def test_an_order_in_progress_is_processing_until_fulu_finishes_it(fake_fulu, fulu):  # noqa: F811
    fake_fulu.processing = True

    placed = fulu.place_order(card_request())
    waiting = fulu.query_order("K-1")
    fake_fulu.finish("K-1")
    done = fulu.query_order("K-1")

    assert (placed.state, placed.codes) == (PurchaseState.PROCESSING, ())
    assert waiting.state == PurchaseState.PROCESSING
    assert done.state == PurchaseState.DELIVERED
    assert [code.secret for code in done.codes] == [password for _, password in fake_fulu.orders["K-1"].cards]


def test_a_failed_order_reads_as_failed(fake_fulu, fulu):  # noqa: F811
    fake_fulu.processing = True
    fulu.place_order(card_request())
    fake_fulu.finish("K-1", success=False)

    order = fulu.query_order("K-1")

    assert (order.state, order.codes, order.cost) == (PurchaseState.FAILED, (), None)
    assert fake_fulu.balance == Decimal("1000.00")


def test_an_unknown_key_is_not_found(fulu):
    with pytest.raises(UpstreamOrderNotFound):
        fulu.query_order("never-sent")


def test_out_of_stock_is_a_refusal_with_fulus_code(fake_fulu, fulu):  # noqa: F811
    fake_fulu.products[10000587].stock = 1

    with pytest.raises(SupplierRefused) as refused:
        fulu.place_order(card_request(quantity=2))

    assert refused.value.code == str(CODE_OUT_OF_STOCK)
    assert fake_fulu.orders == {}


def test_a_short_balance_is_a_refusal(fake_fulu, fulu):  # noqa: F811
    fake_fulu.balance = Decimal("1.00")

    with pytest.raises(SupplierRefused) as refused:
        fulu.place_order(card_request())

    assert refused.value.code == str(CODE_BALANCE_SHORT)


def test_any_error_code_fulu_answers_is_passed_on(fake_fulu, fulu):  # noqa: F811
    fake_fulu.error_code, fake_fulu.error_message = 4321, "商品维护中"

    with pytest.raises(SupplierRefused, match="商品维护中") as refused:
        fulu.place_order(card_request())

    assert refused.value.code == "4321"


def test_configured_codes_mean_not_found(fake_fulu):  # noqa: F811
    fake_fulu.error_code, fake_fulu.error_message = 9999, "查无此单"
    adapter = FuluAdapter(fake_fulu.config(options={"order_not_found_codes": [9999]}))

    with pytest.raises(UpstreamOrderNotFound):
        adapter.query_order("K-1")


# Signatures


def test_a_request_signed_with_another_secret_is_refused_by_fulu(fake_fulu, fulu):  # noqa: F811
    adapter = FuluAdapter(fake_fulu.config(secret="0" * 32))

    with pytest.raises(SupplierRefused) as refused:
        adapter.balance()

    assert refused.value.code == str(CODE_BAD_SIGN)
    assert fake_fulu.calls == []


def test_an_answer_not_signed_with_our_secret_is_not_believed(fake_fulu, fulu):  # noqa: F811
    fake_fulu.answer_secret = "f" * 32

    with pytest.raises(SupplierUnavailable) as unavailable:
        fulu.place_order(card_request())

    assert unavailable.value.sent


# The network


def test_a_gateway_that_is_down_was_never_reached(fake_fulu, fulu):  # noqa: F811
    fake_fulu.down = True

    with pytest.raises(SupplierUnavailable) as unavailable:
        fulu.place_order(card_request())

    assert unavailable.value.sent is False


def test_an_answer_slower_than_the_timeout_may_have_bought(fake_fulu):  # noqa: F811
    fake_fulu.add_product(10000587, "卡密测试商品", "9.50", stock=20)
    adapter = FuluAdapter(fake_fulu.config(timeout=0.3))
    fake_fulu.slow_seconds = 1.0

    with pytest.raises(SupplierUnavailable) as unavailable:
        adapter.place_order(card_request())

    assert unavailable.value.sent is True
    fake_fulu.slow_seconds = 0
    assert adapter.query_order("K-1").state == PurchaseState.DELIVERED  # it did buy


def test_a_connection_dropped_after_the_request_may_have_bought(fake_fulu, fulu):  # noqa: F811
    fake_fulu.drop_after_read = True

    with pytest.raises(SupplierUnavailable) as unavailable:
        fulu.place_order(card_request())

    assert unavailable.value.sent is True
    assert "K-1" in fake_fulu.orders


@pytest.mark.parametrize("status", [500, 502])
def test_a_server_error_may_have_bought(fake_fulu, fulu, status):  # noqa: F811
    fake_fulu.http_status = status

    with pytest.raises(SupplierUnavailable) as unavailable:
        fulu.balance()

    assert unavailable.value.sent is True


# Callbacks


def test_a_callback_is_verified_and_read(fake_fulu, fulu):  # noqa: F811
    fake_fulu.processing = True
    fulu.place_order(card_request())
    fake_fulu.finish("K-1")

    order = fulu.parse_callback(fake_fulu.callback_request("K-1"))

    assert (order.key, order.state) == ("K-1", PurchaseState.DELIVERED)
    assert order.supplier_order_no == fake_fulu.orders["K-1"].order_id
    assert order.cost == Decimal("19.0000")
    assert order.codes == ()  # the callback carries none: the caller queries
    assert fulu.callback_response(accepted=True).content == b"success"


def test_a_failed_callback_reads_as_failed(fake_fulu, fulu):  # noqa: F811
    fake_fulu.processing = True
    fulu.place_order(card_request())
    fake_fulu.finish("K-1", success=False)

    order = fulu.parse_callback(fake_fulu.callback_request("K-1"))

    assert (order.state, order.message) == (PurchaseState.FAILED, "充值失败")


def test_a_callback_sent_as_a_form_is_read_too(fake_fulu, fulu):  # noqa: F811
    fulu.place_order(card_request())
    request = RequestFactory().post("/suppliers/1/notify/", data=fake_fulu.callback_body("K-1"))

    assert fulu.parse_callback(request).state == PurchaseState.DELIVERED


def test_a_callback_with_a_wrong_signature_is_rejected(fake_fulu, fulu):  # noqa: F811
    fulu.place_order(card_request())

    with pytest.raises(CallbackRejected):
        fulu.parse_callback(fake_fulu.callback_request("K-1", sign="0" * 32))


def test_a_tampered_callback_is_rejected(fake_fulu, fulu):  # noqa: F811
    fulu.place_order(card_request())
    body = fake_fulu.callback_body("K-1")
    body["order_status"] = "failed"
    request = RequestFactory().post("/n/", data=json.dumps(body), content_type="application/json")

    with pytest.raises(CallbackRejected):
        fulu.parse_callback(request)


def test_a_callback_for_another_app_key_is_rejected(fake_fulu, fulu):  # noqa: F811
    fulu.place_order(card_request())

    with pytest.raises(CallbackRejected):
        fulu.parse_callback(fake_fulu.callback_request("K-1", app_key="someone-else"))


@pytest.mark.parametrize(
    "body", [b"", b"{not json", b"[]", b'{"sign":"x"}', b"order_status=success&order_status=failed"]
)
def test_a_malformed_callback_is_rejected(fulu, body):
    request = RequestFactory().post(
        "/n/", data=body, content_type="application/json" if body[:1] in b"{[" else "application/x-www-form-urlencoded"
    )

    with pytest.raises(CallbackRejected):
        fulu.parse_callback(request)
