"""Member levels bought outright (代理 for ¥199), reached by wallet top-ups, and the staff-queue perk."""

from decimal import Decimal
from urllib.parse import urlencode

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import LevelChange, MemberLevel, User
from accounts.services import credit_wallet
from kamen.money import cny
from kamen.testing import factories
from orders.models import LevelPurchase
from payments import services as payment_services
from payments.models import Payment
from payments.providers import sandbox


@pytest.fixture
def levels(db):
    return {
        "普通会员": MemberLevel.objects.create(name="普通会员", rank=0),
        "白银": MemberLevel.objects.create(
            name="白银", rank=10, discount=Decimal("0.95"), upgrade_at=Decimal("500"), upgrade_at_topup=Decimal("300")
        ),
        "代理": MemberLevel.objects.create(
            name="代理", rank=30, badge="代", price=Decimal("199.00"), staff_priority=True
        ),
    }


def notify(payment: Payment) -> bytes:
    body = urlencode(sandbox.build_notification(payment))
    return (
        Client().post("/payments/sandbox/notify/", data=body, content_type="application/x-www-form-urlencoded").content
    )


def test_a_level_bought_through_the_sandbox_gateway_is_granted_once(client, shopper, levels):
    client.force_login(shopper)
    page = client.get(reverse("orders:levels")).content.decode()
    assert "代理" in page and "¥199.00" in page and reverse("orders:buy_level", args=[levels["代理"].pk]) in page

    response = client.post(reverse("orders:buy_level", args=[levels["代理"].pk]), {"provider": "sandbox"})

    payment = Payment.objects.get()
    assert response["Location"] == reverse("payments:checkout", args=[payment.trade_no])
    assert (payment.purpose, payment.amount, payment.user) == ("level", cny("199.00"), shopper)
    assert LevelPurchase.objects.get(payment=payment).level == levels["代理"]
    assert User.objects.get(pk=shopper.pk).level is None  # nothing until the gateway confirms
    assert "会员等级：代理" in client.get(reverse("payments:sandbox", args=[payment.trade_no])).content.decode()

    assert notify(payment) == b"success" and notify(payment) == b"success"

    assert User.objects.get(pk=shopper.pk).level == levels["代理"]
    change = LevelChange.objects.get(user=shopper)
    assert (change.reason, change.to_level, change.reference) == ("bought", levels["代理"], payment.trade_no)
    # Bought, it is not for sale to them again.
    page = client.get(reverse("orders:levels")).content.decode()
    assert reverse("orders:buy_level", args=[levels["代理"].pk]) not in page


def test_a_level_bought_from_the_wallet_is_granted_at_once(client, shopper, levels):
    credit_wallet(shopper, cny("250.00"), actor=None, reference="t")
    client.force_login(shopper)

    client.post(reverse("orders:buy_level", args=[levels["代理"].pk]), {"provider": "balance"})

    assert User.objects.get(pk=shopper.pk).level == levels["代理"]
    assert shopper.wallet.__class__.objects.get(user=shopper).balance == cny("51.00")


def test_a_level_not_for_sale_or_not_above_the_members_cannot_be_bought(client, shopper, levels):
    client.force_login(shopper)

    not_for_sale = client.post(reverse("orders:buy_level", args=[levels["白银"].pk]), {"provider": "sandbox"})
    shopper.level = levels["代理"]
    shopper.save()
    again = client.post(reverse("orders:buy_level", args=[levels["代理"].pk]), {"provider": "sandbox"}, follow=True)

    assert not_for_sale.status_code == 404
    assert "你已经是该等级或更高等级" in again.content.decode()
    assert not Payment.objects.exists()


def test_buying_a_level_needs_a_sign_in(client, levels):
    response = client.post(reverse("orders:buy_level", args=[levels["代理"].pk]), {"provider": "sandbox"})

    assert response.status_code == 302 and reverse("account_login") in response["Location"]
    assert "代理" in client.get(reverse("orders:levels")).content.decode()  # the page itself is for everyone


def test_wallet_top_ups_reaching_a_levels_threshold_move_the_member_up(shopper, levels, pay):
    for amount in ("200.00", "100.00"):
        payment = payment_services.start_topup(shopper, amount=Decimal(amount), provider="sandbox")
        pay(payment)

    user = User.objects.get(pk=shopper.pk)
    assert user.topup_total == cny("300.00") and user.level == levels["白银"]
    assert LevelChange.objects.get(user=shopper).reason == LevelChange.Reason.UPGRADE


def test_orders_of_members_with_the_staff_queue_perk_come_first(client, staff, levels, paid_order):
    manual = factories.SkuFactory(delivery_kind="manual")
    guest_order = paid_order(manual, quantity=1)
    agent = factories.UserFactory(level=levels["代理"])
    agent_order = paid_order(manual, quantity=1, user=agent)
    client.force_login(staff)

    page = client.get(reverse("admin:orders_staffqueueorder_changelist")).content.decode()

    assert page.index(agent_order.number) < page.index(guest_order.number)
    assert "代 代理" in page
