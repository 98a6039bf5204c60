"""Demo data up to orders: the catalog, levels and logins (`seed_catalog`), and coupons on top — a
shared welcome code, a 满减 code, and two coupons in the demo shopper's account — and the points mall.
`seed_demo` (in distribution) runs it and adds the demo shopper's team. Idempotent like
`seed_catalog`: a second run adds nothing and changes nothing."""

from django.db import transaction

from accounts import points
from accounts.models import User
from catalog.management.commands.seed_catalog import SHOPPER_LOGIN
from catalog.management.commands.seed_catalog import Command as CatalogCommand
from catalog.models import Category, Sku
from kamen.money import cny
from orders.models import Coupon, CouponGrant, PointsReward
from orders.services import coupons

# (shared code or None, name, terms); coupons without a code are granted to the demo shopper.
COUPONS = [
    (
        "WELCOME5",
        "新人首单立减5元",
        {"kind": Coupon.Kind.AMOUNT_OFF, "amount_off": cny(5), "min_spend": cny(30), "first_order_only": True},
    ),
    (
        "MAN100",
        "满100减10",
        {"kind": Coupon.Kind.AMOUNT_OFF, "amount_off": cny(10), "min_spend": cny(100), "uses_per_member": 3},
    ),
    (None, "无门槛2元券", {"kind": Coupon.Kind.NO_THRESHOLD, "amount_off": cny(2)}),
    (
        None,
        "游戏点卡9折券",
        {
            "kind": Coupon.Kind.PERCENT_OFF,
            "percent_off": 10,
            "max_discount": cny(20),
            "combines_with_member_price": False,
        },
    ),
]
GRANT_REFERENCE = "seed_demo"


class Command(CatalogCommand):
    help = "Fill an empty shop with demo categories, products, card codes, coupons and two logins (safe to run twice)."

    def handle(self, *args, **options):
        with transaction.atomic():
            super().handle(*args, **options)
            self._coupons()
            self._rewards()
        self.stdout.write("  coupons: WELCOME5 (新人首单 满30减5), MAN100 (满100减10); two in the shopper's account")
        self.stdout.write("  points mall: /points/ (the shopper starts with 500 points)")

    def _rewards(self) -> None:
        """The points mall: a coupon, wallet credit and a Q币 card; the demo shopper has points to try it."""
        small = Coupon.objects.get(name="无门槛2元券")
        card = Sku.objects.filter(product__title="腾讯Q币卡").order_by("price").first()
        rewards = [
            ("无门槛2元券", PointsReward.Kind.COUPON, 200, {"coupon": small, "per_member": 3}),
            ("1元钱包余额", PointsReward.Kind.CREDIT, 100, {"credit": cny(1), "per_member": 5}),
            (f"{card.product.title} {card.name}", PointsReward.Kind.GOODS, 1000, {"sku": card, "stock": 20}),
        ]
        for order, (name, kind, cost, terms) in enumerate(rewards):
            PointsReward.objects.get_or_create(
                name=name, defaults={"kind": kind, "points": cost, "sort_order": order, **terms}
            )
        shopper = User.objects.get(email=SHOPPER_LOGIN[0])
        points.give_points(shopper, 500, reference=GRANT_REFERENCE, note="演示积分")

    def _coupons(self) -> None:
        shopper = User.objects.get(email=SHOPPER_LOGIN[0])
        for code, name, terms in COUPONS:
            coupon = Coupon.objects.filter(name=name).first()
            if coupon is None:
                coupon = Coupon.objects.create(code=code, name=name, total_uses=1000 if code else None, **terms)
                if name == "游戏点卡9折券":
                    coupon.categories.set(Category.objects.filter(slug="game-cards"))
            if code is None:
                coupons.grant_coupon(coupon, shopper, reason=CouponGrant.Reason.WELCOME, reference=GRANT_REFERENCE)
