from catalog.models import CardCode
from orders import services
from orders.models import Order


def test_place_order_reserves_codes(sku, shopper):
    payment = services.place_order(sku, quantity=2, user=None, contact_email="a@b.cn", lookup_password="abcd", payment_method="sandbox")
    assert payment.order.status == Order.Status.PENDING_PAYMENT
    assert CardCode.objects.filter(order=payment.order, status=CardCode.Status.RESERVED).count() == 2
