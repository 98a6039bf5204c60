"""Distribution in admin: staff decide withdrawals and held commissions through the shop's services,
with the change permission, and every page renders."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import timezone

from distribution import services
from distribution.models import Commission, LedgerEntry, Withdrawal
from kamen.testing import factories

pytestmark = pytest.mark.usefixtures("english")


@pytest.fixture
def waiting(chain, paid_order, settings):
    """A withdrawal to Alipay waiting for approval, and a commission held for review."""
    settings.WITHDRAWAL_MIN = Decimal("1.00")
    inviter, buyer = chain(2)
    sku = factories.SkuFactory(price="50.00")
    factories.stock(sku, 4)
    paid_order(sku, quantity=1, user=buyer)
    services.settle_due_commissions(now=timezone.now() + timedelta(days=8))
    withdrawal = services.request_withdrawal(
        inviter, amount=Decimal("3.00"), method="alipay", account="13800138000", account_name="张三"
    )
    services.record_sighting(inviter, device="shared", ip=None)
    services.record_sighting(buyer, device="shared", ip=None)
    paid_order(sku, quantity=1, user=buyer)  # now flagged: held for review
    return withdrawal, Commission.objects.get(state="review")


def test_staff_decline_and_pay_by_hand_from_the_withdrawal_page(client, staff, waiting):
    withdrawal, _ = waiting
    client.force_login(staff)
    page = reverse("admin:distribution_withdrawal_change", args=[withdrawal.pk])

    assert "Approve and transfer" in client.get(page).content.decode()
    refused = client.post(reverse("admin:distribution_withdrawal_act", args=[withdrawal.pk, "paid"]), {}, follow=True)
    assert "reference" in refused.content.decode() and Withdrawal.objects.get().state == "requested"
    client.post(reverse("admin:distribution_withdrawal_act", args=[withdrawal.pk, "paid"]), {"reference": "回单 42"})

    paid = Withdrawal.objects.get()
    assert (paid.state, paid.reference, paid.decided_by) == ("paid", "回单 42", staff)
    assert LedgerEntry.objects.filter(withdrawal=paid, kind="withdrawal_paid", actor=staff).exists()
    again = client.post(reverse("admin:distribution_withdrawal_act", args=[withdrawal.pk, "decline"]), {"reason": "x"})
    assert again.status_code == 302 and Withdrawal.objects.get().state == "paid"


def test_staff_without_the_change_permission_cannot_act(client, waiting):
    withdrawal, held = waiting
    viewer = factories.UserFactory(email="viewer@example.com", is_staff=True)
    viewer.user_permissions.add(*Permission.objects.filter(codename__in=["view_withdrawal", "view_commission"]))
    client.force_login(viewer)

    act = client.post(reverse("admin:distribution_withdrawal_act", args=[withdrawal.pk, "decline"]), {"reason": "x"})
    client.post(
        reverse("admin:distribution_commission_changelist"),
        {"action": "approve_selected", "_selected_action": [held.pk]},
    )

    assert act.status_code == 403 and Withdrawal.objects.get().state == "requested"
    assert Commission.objects.get(pk=held.pk).state == "review"


def test_staff_approve_or_reject_held_commissions_from_the_list(client, staff, waiting):
    _, held = waiting
    client.force_login(staff)
    changelist = reverse("admin:distribution_commission_changelist")

    client.post(changelist, {"action": "reject_selected", "_selected_action": [held.pk]})

    rejected = Commission.objects.get(pk=held.pk)
    assert rejected.state == "reversed" and rejected.reviewed_by == staff
    for name in ("referrer", "commission", "ledgerentry", "withdrawal", "commissionrule", "levelterms"):
        assert client.get(reverse(f"admin:distribution_{name}_changelist")).status_code == 200
