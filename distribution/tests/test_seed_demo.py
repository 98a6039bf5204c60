"""`seed_demo` fills an empty shop and is idempotent: a second run adds nothing and changes nothing."""

from io import StringIO

import pytest
from allauth.account.models import EmailAddress
from django.core.management import CommandError, call_command
from djmoney.money import Money

from accounts.models import User, Wallet, WalletEntry
from catalog.models import BuyerField, CardCode, Category, Product, Sku
from distribution.models import Commission, Referrer
from distribution.selectors import balances_of
from orders.models import Coupon, CouponGrant


def snapshot() -> dict:
    return {
        "categories": list(Category.objects.values_list("slug", "parent__slug", "name").order_by("slug")),
        "products": list(
            Product.objects.values_list("title", "status", "is_on_shelf", "is_hot", "updated_at").order_by("id")
        ),
        "skus": list(Sku.objects.values_list("product__title", "name", "price", "delivery_kind").order_by("id")),
        "codes": list(CardCode.objects.values_list("sku_id", "fingerprint", "status").order_by("id")),
        "users": list(User.objects.values_list("email", "password", "is_superuser").order_by("id")),
        "addresses": list(EmailAddress.objects.values_list("email", "verified", "primary").order_by("id")),
        "ledger": list(WalletEntry.objects.values_list("wallet__user__email", "amount", "reference").order_by("id")),
        "fields": list(BuyerField.objects.values_list("product__title", "label", "kind", "choices").order_by("id")),
        "coupons": list(Coupon.objects.values_list("name", "code", "kind", "total_uses").order_by("id")),
        "grants": list(CouponGrant.objects.values_list("user__email", "coupon__name").order_by("id")),
        "commissions": list(Commission.objects.values_list("earner__email", "amount", "state").order_by("id")),
    }


def seed(**options) -> str:
    out = StringIO()
    call_command("seed_demo", codes_per_sku=8, stdout=out, **options)
    return out.getvalue()


@pytest.mark.django_db
def test_seed_demo_fills_the_shop():
    output = seed()

    assert Category.objects.filter(parent=None).count() >= 3
    assert not Category.objects.filter(parent__parent__isnull=False).exists()
    assert Product.objects.visible().count() >= 25
    assert Product.objects.visible().filter(is_hot=True).count() >= 5
    assert Product.objects.filter(status=Product.Status.PENDING, is_on_shelf=False).count() == 1
    manual = Sku.objects.filter(delivery_kind=Sku.DeliveryKind.MANUAL)
    assert manual.exists() and not CardCode.objects.filter(sku__in=manual).exists()
    # Direct top-ups ask the buyer for what staff need: the UID and server, a QQ number, a phone number.
    genshin = Product.objects.get(title="原神 UID 代充")
    assert [(f.label, f.kind) for f in genshin.buyer_fields.all()] == [("UID", "number"), ("服务器", "choice")]
    assert {"qq", "phone", "game_account"} <= set(BuyerField.objects.values_list("kind", flat=True))
    assert Product.objects.get(title="腾讯Q币卡").instructions.startswith("登录 pay.qq.com")
    card_skus = Sku.objects.filter(delivery_kind=Sku.DeliveryKind.CARD_CODES)
    assert CardCode.objects.count() == 8 * card_skus.count()
    assert CardCode.objects.exclude(card_no_encrypted="").exists()  # some codes are card number + password
    admin = User.objects.get(email="admin@kamen.local")
    shopper = User.objects.get(email="shopper@kamen.local")
    assert admin.is_superuser and admin.check_password("kamen-admin-2026")
    assert not shopper.is_staff and shopper.check_password("kamen-shop-2026")
    assert Wallet.objects.get(user=shopper).balance == Money("500.00", "CNY")
    assert Coupon.objects.filter(code="WELCOME5", first_order_only=True).exists()
    assert Coupon.objects.filter(code="MAN100").exists()
    assert CouponGrant.objects.filter(user=shopper).count() == 2
    assert "admin@kamen.local / kamen-admin-2026" in output and "shopper@kamen.local / kamen-shop-2026" in output


@pytest.mark.django_db
def test_seed_demo_gives_the_shopper_a_team_with_settled_and_pending_commissions():
    seed()

    shopper = Referrer.objects.get(user__email="shopper@kamen.local")
    assert Referrer.objects.filter(inviter=shopper.user).count() == 2
    assert Referrer.objects.filter(upline_2=shopper.user).count() == 1
    figures = balances_of(shopper.user)
    assert figures.available > 0 and figures.pending > 0
    assert set(Commission.objects.filter(earner=shopper.user).values_list("state", flat=True)) == {"settled", "pending"}


@pytest.mark.django_db
def test_a_second_run_adds_nothing_and_changes_nothing():
    seed()
    first = snapshot()

    output = seed()

    assert snapshot() == first
    assert "(0 added now)" in output


@pytest.mark.django_db
def test_the_default_run_puts_thousands_of_codes_in_stock():
    call_command("seed_demo", stdout=StringIO())

    assert CardCode.objects.count() >= 5000
    assert Sku.objects.filter(delivery_kind=Sku.DeliveryKind.CARD_CODES).count() >= 60


@pytest.mark.django_db
def test_seed_demo_refuses_to_run_in_production(settings):
    settings.PRODUCTION = True

    with pytest.raises(CommandError):
        seed()
    assert not User.objects.exists()
