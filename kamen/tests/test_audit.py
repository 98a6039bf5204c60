"""The audit log: staff actions that move money, reveal secrets or change prices leave one row each."""

from decimal import Decimal

from django.urls import reverse
from djmoney.money import Money

from accounts import levels
from accounts import services as wallet_services
from accounts.models import MemberLevel, Wallet
from catalog import services as catalog_services
from catalog.models import CardCode, Sku
from kamen.models import StaffAction
from kamen.testing import factories
from kamen.testing.pages import sku_admin_form
from orders import services as order_services
from payments.models import Refund

K = StaffAction.Kind


def test_a_staff_wallet_credit_is_audited_with_the_balance_before_and_after(staff, shopper):
    wallet_services.credit_wallet(shopper, Money("12.30", "CNY"), actor=staff, note="补偿")

    row = StaffAction.objects.get()
    assert (row.kind, row.actor, row.note) == (K.WALLET_CREDIT, staff, "补偿")
    assert row.target_id == str(Wallet.objects.get(user=shopper).pk)
    assert row.before == {"balance": "0.00 CNY"}
    assert row.after == {"balance": "12.30 CNY", "amount": "12.30 CNY"}


def test_credits_the_shop_makes_by_itself_are_not_staff_actions(shopper):
    wallet_services.credit_wallet(shopper, Money("5.00", "CNY"), actor=None, note="refund")

    assert not StaffAction.objects.exists()


def test_a_staff_level_change_is_audited(staff, shopper):
    gold = MemberLevel.objects.create(name="黄金会员", rank=2, discount=Decimal("0.88"))

    levels.set_level(shopper.pk, gold, actor=staff, note="大客户")

    row = StaffAction.objects.get()
    assert (row.kind, row.actor, row.before, row.after) == (
        K.LEVEL_CHANGE,
        staff,
        {"level": None},
        {"level": "黄金会员"},
    )


def test_revealing_a_code_is_audited(staff, sku):
    code = CardCode.objects.filter(sku=sku).first()

    catalog_services.reveal_code(code, user=staff, ip="203.0.113.9")

    row = StaffAction.objects.get()
    assert (row.kind, row.actor, row.target_id, row.ip) == (K.CODE_REVEAL, staff, str(code.pk), "203.0.113.9")


def test_every_refund_decision_is_audited(staff, shopper, sku, paid_order):
    order = paid_order(sku, user=shopper)
    refund = order_services.request_refund(order, user=shopper, reason="bought twice")

    order_services.decline_refund(refund, actor=staff, note="已使用")

    row = StaffAction.objects.get()
    assert (row.kind, row.actor, row.target_id) == (K.REFUND, staff, str(refund.pk))
    assert row.before == {"state": Refund.State.REQUESTED}
    assert row.after["state"] == Refund.State.DECLINED and row.note == "已使用"


def test_a_price_edited_in_admin_is_audited_with_only_what_changed(client, staff, sku):
    client.force_login(staff)
    url = reverse("admin:catalog_sku_change", args=[sku.pk])

    response = client.post(url, sku_admin_form(sku, price="12.50", tiers=[(10, "11.00")]))

    assert response.status_code == 302
    assert Sku.objects.get(pk=sku.pk).price == Money("12.50", "CNY")
    row = StaffAction.objects.get()
    assert (row.kind, row.actor) == (K.PRICE_CHANGE, staff)
    assert row.before == {"price": "10.00 CNY", "wholesale": []}
    assert row.after == {"price": "12.50 CNY", "wholesale": ["10: 11.00"]}


def test_the_audit_log_is_searchable_and_read_only_in_admin(client, staff, shopper):
    other = factories.UserFactory(email="other@example.com")
    wallet_services.credit_wallet(shopper, Money("1.00", "CNY"), actor=staff, note="补偿 A")
    wallet_services.credit_wallet(other, Money("2.00", "CNY"), actor=staff, note="活动 B")
    client.force_login(staff)

    found = client.get(reverse("admin:kamen_staffaction_changelist"), {"q": "补偿"})
    row = StaffAction.objects.get(note="补偿 A")
    change = client.get(reverse("admin:kamen_staffaction_change", args=[row.pk]))

    assert found.status_code == 200
    assert list(found.context["cl"].result_list) == [row]
    assert 'name="_save"' not in change.content.decode()
    assert client.post(reverse("admin:kamen_staffaction_delete", args=[row.pk])).status_code == 403
