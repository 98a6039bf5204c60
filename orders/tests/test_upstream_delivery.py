"""Delivery of upstream Skus against real HTTP suppliers on loopback (two fake Fulu gateways): fail-over,
queries instead of second orders, the staff queue after the deadline — never bought twice, never
delivered twice."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone
from djmoney.money import Money

from catalog import crypto
from catalog.models import CardCode, Sku, Supplier, SupplierProduct
from kamen.testing import factories
from kamen.testing.fake_fulu import CODE_OUT_OF_STOCK, FakeFulu
from orders.models import Order, OrderEvent, UpstreamPurchase
from orders.services import deliver_order
from orders.services.upstream import advance_upstream_orders
from orders.supplier_views import supplier_notify

pytestmark = pytest.mark.django_db
PRODUCT = 101


@pytest.fixture
def gateways():
    started = []

    def start(price="9.00", **product) -> FakeFulu:
        fake = FakeFulu()
        fake.start()
        fake.add_product(PRODUCT, "腾讯Q币10元", price, **product)
        started.append(fake)
        return fake

    yield start
    for fake in started:
        fake.stop()


def supplier_for(fake: FakeFulu, *, name: str, priority: int) -> Supplier:
    supplier = Supplier(
        name=name,
        adapter="fulu",
        base_url=fake.url,
        account=fake.app_key,
        priority=priority,
        timeout_seconds=1,
    )
    supplier.secret_encrypted = crypto.encrypt(fake.app_secret)
    supplier.save()
    return supplier


@pytest.fixture
def shop(gateways):
    """An upstream Sku at ¥10 supplied by two gateways: "first" is asked first, "second" next."""
    first, second = gateways(), gateways()
    sku = factories.SkuFactory(price="10.00", delivery_kind=Sku.DeliveryKind.UPSTREAM, upstream_stock=10)
    for priority, fake in enumerate((first, second), start=1):
        supplier = supplier_for(fake, name=f"上游{priority}", priority=priority)
        SupplierProduct.objects.create(supplier=supplier, sku=sku, code=str(PRODUCT), cost=Money("9.00", "CNY"))
    return sku, first, second


def buy(sku, capture, quantity=1) -> Order:
    placed = factories.place_order(sku, quantity=quantity)
    with capture(execute=True):
        factories.confirm(placed.payment)
    return Order.objects.get(pk=placed.order.pk)


def secrets_of(order) -> list[str]:
    return sorted(code.secret for code in CardCode.objects.filter(order=order))


def test_a_healthy_first_supplier_delivers_the_codes_it_sold(shop, django_capture_on_commit_callbacks):
    sku, first, second = shop
    order = buy(sku, django_capture_on_commit_callbacks, quantity=2)
    assert order.status == Order.Status.DELIVERED
    [bought] = first.orders.values()
    assert secrets_of(order) == sorted(password for _number, password in bought.cards)
    assert second.orders == {}
    [purchase] = order.purchases.all()
    assert (purchase.state, purchase.cost.amount, purchase.supplier_order_no) == ("delivered", 18, bought.order_id)


def test_a_supplier_that_is_down_is_failed_over(shop, django_capture_on_commit_callbacks):
    sku, first, second = shop
    first.down = True
    order = buy(sku, django_capture_on_commit_callbacks)
    assert order.status == Order.Status.DELIVERED
    assert len(second.orders) == 1
    states = list(order.purchases.values_list("supplier__name", "state", "failure"))
    assert states == [("上游1", "failed", "unreachable"), ("上游2", "delivered", "")]


def test_a_refusal_is_failed_over_and_buys_nothing_there(shop, django_capture_on_commit_callbacks):
    sku, first, second = shop
    first.error_code = CODE_OUT_OF_STOCK
    order = buy(sku, django_capture_on_commit_callbacks)
    assert order.status == Order.Status.DELIVERED
    assert (len(first.orders), len(second.orders)) == (0, 1)


def test_a_timeout_is_resolved_by_asking_never_by_ordering_again(shop, django_capture_on_commit_callbacks):
    sku, first, second = shop
    first.slow_seconds = 2  # it takes the order, then answers after our 1 s timeout
    order = buy(sku, django_capture_on_commit_callbacks)
    [purchase] = order.purchases.all()
    assert (order.status, purchase.state) == (Order.Status.PAID, "unknown")
    assert second.orders == {}  # the first may have bought: nobody else is asked
    first.slow_seconds = 0
    with time_machine.travel(timezone.now() + timedelta(seconds=5), tick=False):
        deliver_order(order.pk)
    order.refresh_from_db()
    assert order.status == Order.Status.DELIVERED
    assert secrets_of(order) == [password for _n, password in first.orders[purchase.key].cards]
    assert (len(first.orders), len(second.orders), order.purchases.count()) == (1, 0, 1)


def test_an_error_answer_after_the_order_arrived_is_asked_about(shop, django_capture_on_commit_callbacks):
    sku, first, second = shop
    first.http_status = 502  # the order is taken, the answer lost at a proxy
    order = buy(sku, django_capture_on_commit_callbacks)
    assert order.purchases.get().state == "unknown"
    first.http_status = 200
    with time_machine.travel(timezone.now() + timedelta(seconds=5), tick=False):
        deliver_order(order.pk)
    order.refresh_from_db()
    assert order.status == Order.Status.DELIVERED and (len(first.orders), len(second.orders)) == (1, 0)


def test_answering_twice_delivers_once(shop, django_capture_on_commit_callbacks, rf):
    sku, first, _second = shop
    first.processing = True
    order = buy(sku, django_capture_on_commit_callbacks)
    purchase = order.purchases.get()
    assert (order.status, purchase.state) == (Order.Status.PAID, "processing")
    first.finish(purchase.key)
    for _ in range(2):  # the same callback, twice
        with django_capture_on_commit_callbacks(execute=True):
            answer = supplier_notify(first.callback_request(purchase.key), supplier_id=purchase.supplier_id)
        assert answer.status_code == 200
    deliver_order(order.pk)  # and a sweeper's run on top
    order.refresh_from_db()
    assert order.status == Order.Status.DELIVERED
    assert len(secrets_of(order)) == 1 and CardCode.objects.filter(order=order).count() == 1
    assert order.events.filter(type=OrderEvent.Type.DELIVERED).count() == 1
    assert len(first.orders) == 1


def test_a_forged_callback_changes_nothing(shop, django_capture_on_commit_callbacks):
    sku, first, _second = shop
    first.processing = True
    order = buy(sku, django_capture_on_commit_callbacks)
    purchase = order.purchases.get()
    first.finish(purchase.key)
    with django_capture_on_commit_callbacks(execute=True):
        supplier_notify(first.callback_request(purchase.key, sign="0" * 32), supplier_id=purchase.supplier_id)
    purchase.refresh_from_db()
    assert purchase.state == "processing" and purchase.next_query_at > timezone.now()


def test_out_of_stock_everywhere_goes_to_staff_with_every_attempt(shop, django_capture_on_commit_callbacks):
    sku, first, second = shop
    first.error_code = second.error_code = CODE_OUT_OF_STOCK
    order = buy(sku, django_capture_on_commit_callbacks)
    assert order.status == Order.Status.DELIVERY_FAILED
    assert "上游1" in order.abnormal_reason and "上游2" in order.abnormal_reason
    assert order.events.filter(type=OrderEvent.Type.UPSTREAM_FAILED).count() == 2


def test_nothing_delivered_within_the_deadline_goes_to_staff_then_a_late_delivery_is_honoured(
    shop, django_capture_on_commit_callbacks
):
    sku, first, second = shop
    first.processing = True
    order = buy(sku, django_capture_on_commit_callbacks)
    purchase = order.purchases.get()
    with time_machine.travel(timezone.now() + timedelta(minutes=6), tick=False):
        with django_capture_on_commit_callbacks(execute=True):
            assert order.pk in advance_upstream_orders()
        order.refresh_from_db()
        assert order.status == Order.Status.DELIVERY_FAILED
        assert purchase.key in order.abnormal_reason
        assert second.orders == {}  # still open at the first: never bought elsewhere
        first.finish(purchase.key)
        with time_machine.travel(timezone.now() + timedelta(minutes=1), tick=False):
            deliver_order(order.pk)
    order.refresh_from_db()
    assert order.status == Order.Status.DELIVERED and order.abnormal_reason == ""
    assert order.events.filter(type=OrderEvent.Type.DELIVERED_LATE).exists()


def test_a_supplier_charging_more_than_the_buyer_paid_is_not_asked(shop, django_capture_on_commit_callbacks):
    sku, first, second = shop
    SupplierProduct.objects.filter(supplier__name="上游1").update(cost=Money("10.50", "CNY"))
    order = buy(sku, django_capture_on_commit_callbacks)
    assert order.status == Order.Status.DELIVERED
    assert (len(first.orders), len(second.orders)) == (0, 1)


def test_a_direct_top_up_goes_to_the_account_the_buyer_entered(gateways, django_capture_on_commit_callbacks):
    from catalog.models import BuyerField

    fake = gateways(kind="direct")
    sku = factories.SkuFactory(price="10.00", delivery_kind=Sku.DeliveryKind.UPSTREAM, upstream_stock=10)
    field = BuyerField.objects.create(product=sku.product, label="QQ号", kind=BuyerField.Kind.QQ)
    supplier = supplier_for(fake, name="直充上游", priority=1)
    SupplierProduct.objects.create(supplier=supplier, sku=sku, code=str(PRODUCT), kind="direct", cost=Money("9", "CNY"))
    placed = factories.order_services.place_order(
        sku,
        quantity=1,
        user=None,
        contact_email="g@example.com",
        lookup_password="pw-1234",
        payment_method="sandbox",
        buyer_input={f"input_{field.pk}": "123456789"},
    )
    with django_capture_on_commit_callbacks(execute=True):
        factories.confirm(placed.payment)
    order = Order.objects.get(pk=placed.order.pk)
    assert order.status == Order.Status.DELIVERED
    [topped_up] = fake.orders.values()
    assert topped_up.charge_account == "123456789"
    assert topped_up.order_id in order.manual_delivery and not CardCode.objects.filter(order=order).exists()
    assert UpstreamPurchase.objects.get(order=order).state == "delivered"


def test_staff_send_a_queued_order_round_the_suppliers_again(shop, staff, django_capture_on_commit_callbacks):
    from orders.models import IllegalTransition
    from orders.services import retry_delivery

    sku, first, second = shop
    first.error_code = second.error_code = CODE_OUT_OF_STOCK
    order = buy(sku, django_capture_on_commit_callbacks)
    assert order.status == Order.Status.DELIVERY_FAILED
    first.error_code = second.error_code = None  # the first supplier restocked
    with django_capture_on_commit_callbacks(execute=True):
        retry_delivery(order, actor=staff)
    order.refresh_from_db()
    assert order.status == Order.Status.DELIVERED and order.abnormal_reason == ""
    assert list(order.purchases.values_list("key", "state")) == [
        (f"{order.number}-1", "failed"),
        (f"{order.number}-2", "failed"),
        (f"{order.number}-3", "delivered"),
    ]
    assert order.events.filter(type=OrderEvent.Type.UPSTREAM_RETRIED, actor=staff).exists()
    with pytest.raises(IllegalTransition):  # delivered: nothing to send again
        retry_delivery(order, actor=staff)


def test_an_order_still_asking_a_supplier_cannot_be_sent_again(shop, staff, django_capture_on_commit_callbacks):
    from orders.models import IllegalTransition
    from orders.services import retry_delivery

    sku, first, second = shop
    first.processing = True
    order = buy(sku, django_capture_on_commit_callbacks)
    with time_machine.travel(timezone.now() + timedelta(minutes=6), tick=False):
        advance_upstream_orders()
    order.refresh_from_db()
    assert order.status == Order.Status.DELIVERY_FAILED
    with pytest.raises(IllegalTransition):
        retry_delivery(order, actor=staff)
    assert second.orders == {}
