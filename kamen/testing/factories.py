"""factory_boy factories for tests and benchmarks."""

import factory
from djmoney.money import Money

from accounts.models import User
from accounts.second_factor import give_authenticator
from catalog import services as catalog_services
from catalog.models import Category, Product, Sku
from orders import services as order_services
from orders.models import Coupon
from payments.models import Payment, Refund
from payments.services import Confirmation, confirm_payment

# The authenticator secret of staff made by UserFactory; accounts.second_factor.current_code gives its code.
STAFF_TOTP_SECRET = "KAMENTESTSTAFFKAMENTESTSTAFFKAME"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("email",)
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.com")
    password = factory.django.Password("pass-1234-word")

    @factory.post_generation
    def second_factor(user, create, extracted, **kwargs):
        """Staff carry an authenticator (STAFF_TOTP_SECRET), as the admin requires; `second_factor=False`
        makes staff who have not set one up."""
        if create and user.is_staff and extracted is not False:
            give_authenticator(user, STAFF_TOTP_SECRET)


class CategoryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Category

    name = factory.Sequence(lambda n: f"分类{n}")
    slug = factory.Sequence(lambda n: f"category-{n}")


class ProductFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Product

    category = factory.SubFactory(CategoryFactory)
    title = factory.Sequence(lambda n: f"测试商品 {n}")
    description = "自动发货，付款后立即可见卡密。"
    status = Product.Status.APPROVED
    is_on_shelf = True


class SkuFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Sku

    product = factory.SubFactory(ProductFactory)
    name = factory.Sequence(lambda n: f"规格{n}")
    price = Money("10.00", "CNY")
    delivery_kind = Sku.DeliveryKind.CARD_CODES

    @classmethod
    def _adjust_kwargs(cls, **kwargs):
        price = kwargs.get("price")
        if isinstance(price, str | int):
            kwargs["price"] = Money(price, "CNY")
        return kwargs


class CouponFactory(factory.django.DjangoModelFactory):
    """A 满减 coupon, ¥5 off from ¥20, once per member; pass `code` to make it a shared code."""

    class Meta:
        model = Coupon

    name = factory.Sequence(lambda n: f"优惠券{n}")
    kind = Coupon.Kind.AMOUNT_OFF
    amount_off = Money("5.00", "CNY")
    min_spend = Money("20.00", "CNY")

    @classmethod
    def _adjust_kwargs(cls, **kwargs):
        for field in ("amount_off", "min_spend", "max_discount"):
            if isinstance(kwargs.get(field), str | int):
                kwargs[field] = Money(kwargs[field], "CNY")
        return kwargs


def place_order(
    sku: Sku,
    payment_method: str = "sandbox",
    *,
    quantity: int = 2,
    user=None,
    email="g@example.com",
    coupon: str = "",
    grant=None,
) -> order_services.PlacedOrder:
    """An order placed through the checkout service as a shopper would, with the coupon `code` or
    granted coupon named; its payment is pending."""
    choice = order_services.find_coupon(code=coupon, grant_id=grant.pk if grant else None, user=user)
    return order_services.place_order(
        sku,
        quantity=quantity,
        user=user,
        contact_email=email,
        lookup_password="pw-1234",
        payment_method=payment_method,
        coupon=choice,
    )


def confirm(payment: Payment) -> Confirmation:
    """Confirm `payment` for its full amount, as a verified notification from its gateway would."""
    return confirm_payment(
        payment.pk, amount=payment.amount.amount, gateway_trade_no=f"G{payment.pk}", provider=payment.provider
    )


def stock(sku: Sku, count: int, *, prefix: str = "CODE") -> list[str]:
    """Import `count` distinct codes into `sku`; returns their secrets."""
    secrets = [f"{prefix}-{sku.pk}-{i:06d}" for i in range(count)]
    catalog_services.import_codes(sku, "\n".join(secrets))
    return secrets


def order_of(paid: Payment | Refund):
    """The order a payment (or a refund of it) is for; payments themselves do not know it."""
    from orders.selectors import order_of_payment

    return order_of_payment(paid.payment_id if isinstance(paid, Refund) else paid.pk)
