"""Demo data for a fresh shop: everything `seed_orders` makes, and a team for the demo shopper to see in
the promotion centre — two friends they invited and one those invited, who have bought, so there are
commissions settled and pending; and the shop settings' after-sales contact, FAQ, terms and privacy
policy where they are blank. Idempotent: a second run adds nothing and changes nothing."""

from datetime import timedelta

from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone

from accounts.models import User
from catalog.management.commands.seed_catalog import SHOPPER_LOGIN
from catalog.models import CardCode, Sku
from distribution import services
from distribution.models import Referrer
from kamen import shop_settings, shop_texts
from orders.management.commands.seed_orders import Command as OrdersCommand
from orders.services import deliver_order, place_order
from payments.services import confirm_payment

# Invitee, their inviter, what they bought (product title, spec count); the first two are settled.
TEAM = [
    ("friend1@kamen.local", SHOPPER_LOGIN[0], 2),
    ("friend2@kamen.local", SHOPPER_LOGIN[0], 1),
    ("friend3@kamen.local", "friend1@kamen.local", 1),
]


class Command(OrdersCommand):
    help = "Fill an empty shop with demo goods, codes, coupons, logins and a reseller's team (safe to run twice)."

    def handle(self, *args, **options):
        super().handle(*args, **options)
        shop_settings.fill_blanks(shop_texts.DEMO_SETTINGS)  # what staff already wrote stays
        if Referrer.objects.filter(user__email=TEAM[0][0]).exists():
            return
        with transaction.atomic():
            orders = self._team()
        for order in filter(None, orders):
            deliver_order(order.pk)  # as the task enqueued on commit does; it finds them delivered
        # The first purchases are past their hold, as if a week had gone by.
        services.settle_due_commissions(now=timezone.now() + timedelta(days=8))
        with transaction.atomic():
            self._buy(User.objects.get(email=TEAM[2][0]), quantity=1)  # pending: bought just now
        self.stdout.write(f"  promotion centre: /promote/ ({SHOPPER_LOGIN[0]} has a team of {len(TEAM)})")

    def _team(self) -> list:
        orders = []
        for email, inviter_email, quantity in TEAM:
            member = User.objects.create_user(email, password=None)
            services.referrer_for(member)
            services.bind_inviter(member, services.referrer_for(User.objects.get(email=inviter_email)).code)
            orders.append(self._buy(member, quantity=quantity))
        return orders

    @staticmethod
    def _buy(member: User, *, quantity: int):
        """A paid order of Q币 cards (from a shop seeded with few codes, any card in stock), or None."""
        in_stock = (
            Sku.objects.filter(is_active=True, delivery_kind=Sku.DeliveryKind.CARD_CODES)
            .annotate(free=Count("codes", filter=Q(codes__status=CardCode.Status.AVAILABLE)))
            .filter(free__gte=quantity)
        )
        sku = in_stock.filter(product__title="腾讯Q币卡").order_by("-price").first() or in_stock.order_by("pk").first()
        if sku is None:
            return None
        placed = place_order(
            sku,
            quantity=quantity,
            user=member,
            contact_email=member.email,
            lookup_password="",
            payment_method="sandbox",
        )
        payment = placed.payment
        confirm_payment(
            payment.pk, amount=payment.amount.amount, gateway_trade_no=f"DEMO{payment.pk}", provider="sandbox"
        )
        return placed.order
