"""Wallet top-up (充值): paid through a gateway, credited to the wallet ledger exactly once."""

from decimal import Decimal
from urllib.parse import urlencode

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import Wallet, WalletEntry
from kamen.testing.threads import run_together
from orders.models import OrderPayment
from payments import services
from payments.models import Payment, PaymentNotification
from payments.providers import sandbox
from payments.purposes import TOPUP


@pytest.fixture
def signed_in(client, shopper):
    client.force_login(shopper)
    return client


def top_up(client, amount: str, provider: str = "sandbox"):
    return client.post(reverse("payments:topup"), {"amount": amount, "provider": provider})


def test_the_wallet_page_offers_a_top_up_with_gateways_only(signed_in):
    html = signed_in.get(reverse("payments:wallet")).content.decode()

    assert reverse("payments:topup") in html
    assert 'value="sandbox"' in html
    assert 'value="balance"' not in html


def test_a_top_up_paid_at_the_gateway_is_credited_once(signed_in, shopper, django_capture_on_commit_callbacks):
    # given the user asks to top up ¥100 and is sent to the payment page, then to the gateway
    response = top_up(signed_in, "100")
    payment = Payment.objects.get()
    assert (
        payment.purpose == TOPUP
        and payment.user == shopper
        and not OrderPayment.objects.filter(payment=payment).exists()
    )
    assert response["Location"] == reverse("payments:checkout", args=[payment.trade_no])
    assert signed_in.get(response["Location"])["Location"] == reverse("payments:sandbox", args=[payment.trade_no])
    assert "钱包充值" in signed_in.get(reverse("payments:sandbox", args=[payment.trade_no])).content.decode()

    # when the gateway notifies, and notifies again
    body = urlencode(sandbox.build_notification(payment))
    for _ in range(2):
        answer = Client().post("/payments/sandbox/notify/", data=body, content_type="application/x-www-form-urlencoded")
        assert answer.content == b"success"

    # then the wallet holds ¥100 from one ledger entry
    wallet = Wallet.objects.get(user=shopper)
    assert wallet.balance.amount == Decimal("100.00")
    entry = WalletEntry.objects.get(wallet=wallet)
    assert (entry.kind, entry.reference, entry.amount.amount) == ("topup", payment.trade_no, Decimal("100.00"))
    results = list(PaymentNotification.objects.order_by("id").values_list("result", flat=True))
    assert results == ["confirmed", "duplicate"]
    page = signed_in.get(reverse("payments:wallet")).content.decode()
    assert "¥100.00" in page and "充值" in page


@pytest.mark.parametrize("amount", ["0", "-5", "0.001", "99999", "abc", ""])
def test_a_bad_amount_is_refused_with_a_message_and_opens_nothing(signed_in, amount):
    response = top_up(signed_in, amount)

    assert response.status_code == 400
    assert 'class="field-error"' in response.content.decode()
    assert not Payment.objects.exists()


def test_a_top_up_cannot_be_paid_from_the_wallet_itself(signed_in, shopper):
    response = top_up(signed_in, "10", provider="balance")

    assert response.status_code == 400
    assert not Payment.objects.exists()
    with pytest.raises(services.TopUpError):
        services.start_topup(shopper, amount=Decimal("10"), provider="balance")


def test_top_up_needs_a_signed_in_user(client, db):
    response = top_up(client, "10")

    assert response.status_code == 302
    assert reverse("account_login") in response["Location"]
    assert not Payment.objects.exists()


def test_another_user_cannot_see_a_top_up(signed_in, user_factory):
    top_up(signed_in, "50")
    payment = Payment.objects.get()
    other = Client()
    other.force_login(user_factory(email="other@example.com"))

    assert other.get(reverse("payments:checkout", args=[payment.trade_no])).status_code == 404
    assert other.get(reverse("payments:sandbox", args=[payment.trade_no])).status_code == 404


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_confirmations_of_one_top_up_credit_once(user_factory):
    user = user_factory(email="racer@example.com")
    payment = services.start_topup(user, amount=Decimal("30.00"), provider="sandbox")

    def confirm():
        return services.confirm_payment(
            payment.pk, amount=Decimal("30.00"), gateway_trade_no="G-TOPUP", provider="sandbox"
        ).newly_confirmed

    outcomes = run_together([confirm] * 10)

    assert sorted(outcomes) == [False] * 9 + [True]
    wallet = Wallet.objects.get(user=user)
    assert wallet.balance.amount == Decimal("30.00")
    assert WalletEntry.objects.filter(wallet=wallet, kind="topup").count() == 1
