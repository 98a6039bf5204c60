"""Wallet credits through admin, the read-only ledger, and the e-mail user admin."""

from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse
from djmoney.money import Money

from accounts import services
from accounts.models import User, Wallet, WalletEntry
from kamen.testing import factories

pytestmark = pytest.mark.usefixtures("english")


def credit_url(user) -> str:
    return reverse("admin:accounts_wallet_credit", args=[user.pk])


def test_a_credit_adds_one_ledger_entry_and_updates_the_balance(client, staff, shopper):
    client.force_login(staff)

    page = client.get(credit_url(shopper))
    response = client.post(credit_url(shopper), {"amount": "12.30", "note": "补偿：订单延迟", "request_key": "k1"})

    assert page.status_code == 200
    wallet = Wallet.objects.get(user=shopper)
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:accounts_wallet_change", args=[wallet.pk])
    assert wallet.balance == Money("12.30", "CNY")
    entry = WalletEntry.objects.get()
    assert (entry.wallet, entry.kind, entry.amount, entry.balance_after) == (
        wallet,
        WalletEntry.Kind.CREDIT,
        Money("12.30", "CNY"),
        Money("12.30", "CNY"),
    )
    assert (entry.actor, entry.note) == (staff, "补偿：订单延迟")


def test_a_credit_form_sent_twice_credits_once(client, staff, shopper):
    client.force_login(staff)
    key = client.get(credit_url(shopper)).context["form"]["request_key"].value()

    for _ in range(2):
        client.post(credit_url(shopper), {"amount": "10.00", "note": "double click", "request_key": key})

    assert Wallet.objects.get(user=shopper).balance == Money("10.00", "CNY")
    assert WalletEntry.objects.count() == 1


@pytest.mark.parametrize(
    "data",
    [
        {"amount": "0", "note": "zero"},
        {"amount": "0.00", "note": "zero"},
        {"amount": "-5.00", "note": "negative"},
        {"amount": "1.005", "note": "three decimals"},
        {"amount": "abc", "note": "not a number"},
        {"amount": "NaN", "note": "not a number"},
        {"amount": "10.00", "note": ""},
        {"amount": "10.00", "note": "x" * 201},
        {"amount": "", "note": "missing"},
    ],
)
def test_bad_credit_input_is_refused_and_changes_nothing(client, staff, shopper, data):
    services.credit_wallet(shopper, Money("1.00", "CNY"), actor=None, note="start")
    client.force_login(staff)

    response = client.post(credit_url(shopper), {**data, "request_key": "k1"})

    assert response.status_code == 200
    assert response.context["form"].errors
    assert WalletEntry.objects.count() == 1
    assert Wallet.objects.get(user=shopper).balance.amount == Decimal("1.00")


def test_a_credit_needs_the_add_walletentry_permission(client, shopper):
    clerk = factories.UserFactory(email="clerk@example.com", is_staff=True)
    clerk.user_permissions.add(Permission.objects.get(codename="view_wallet"))
    client.force_login(clerk)

    assert client.get(credit_url(shopper)).status_code == 403
    assert (
        client.post(credit_url(shopper), {"amount": "50.00", "note": "sneaky", "request_key": "k1"}).status_code == 403
    )
    assert not WalletEntry.objects.exists()


def test_a_shopper_cannot_reach_the_credit_page(client, shopper):
    client.force_login(shopper)

    response = client.post(credit_url(shopper), {"amount": "50.00", "note": "self-service", "request_key": "k1"})

    assert response.status_code == 302 and "/admin/login/" in response["Location"]
    assert not WalletEntry.objects.exists()


def test_wallets_and_ledger_entries_are_read_only(client, staff, shopper):
    change = services.credit_wallet(shopper, Money("3.00", "CNY"), actor=staff, note="start")
    client.force_login(staff)

    assert client.get(reverse("admin:accounts_wallet_add")).status_code == 403
    assert client.get(reverse("admin:accounts_walletentry_add")).status_code == 403
    assert client.get(reverse("admin:accounts_wallet_delete", args=[change.wallet.pk])).status_code == 403
    assert client.get(reverse("admin:accounts_walletentry_delete", args=[change.entry.pk])).status_code == 403
    edit = client.post(reverse("admin:accounts_walletentry_change", args=[change.entry.pk]), {"amount_0": "999"})
    assert edit.status_code == 403
    wallet_page = client.get(reverse("admin:accounts_wallet_change", args=[change.wallet.pk]))
    assert wallet_page.status_code == 200 and b'name="_save"' not in wallet_page.content
    assert credit_url(shopper).encode() in wallet_page.content
    change.entry.refresh_from_db()
    assert change.entry.amount == Money("3.00", "CNY")


def test_the_ledger_filters_by_wallet(client, staff, shopper, user_factory):
    other = user_factory()
    mine = services.credit_wallet(shopper, Money("1.00", "CNY"), actor=None).entry
    services.credit_wallet(other, Money("2.00", "CNY"), actor=None)
    client.force_login(staff)

    response = client.get(reverse("admin:accounts_walletentry_changelist"), {"wallet__id__exact": mine.wallet_id})

    assert list(response.context["cl"].result_list) == [mine]


# ---------------------------------------------------------------------------------------------------
# Users
# ---------------------------------------------------------------------------------------------------
def test_staff_add_a_user_by_email_stored_in_lower_case(client, staff):
    client.force_login(staff)

    response = client.post(
        reverse("admin:accounts_user_add"),
        {
            "email": "New.Member@Example.COM",
            "usable_password": "true",
            "password1": "x7-Qz!pW-93",
            "password2": "x7-Qz!pW-93",
        },
    )

    assert response.status_code == 302
    user = User.objects.get(email="new.member@example.com")
    assert user.check_password("x7-Qz!pW-93") and not user.is_staff


def test_an_email_that_differs_only_in_case_is_refused(client, staff, shopper):
    client.force_login(staff)

    response = client.post(
        reverse("admin:accounts_user_add"),
        {
            "email": shopper.email.upper(),
            "usable_password": "true",
            "password1": "x7-Qz!pW-93",
            "password2": "x7-Qz!pW-93",
        },
    )

    assert response.status_code == 200
    assert "email" in response.context["adminform"].form.errors
    assert User.objects.filter(email__iexact=shopper.email).count() == 1


def test_the_user_list_searches_by_email_and_shows_the_balance(client, staff, shopper):
    services.credit_wallet(shopper, Money("42.00", "CNY"), actor=None)
    client.force_login(staff)

    response = client.get(reverse("admin:accounts_user_changelist"), {"q": "shopper@"})

    assert list(response.context["cl"].result_list) == [shopper]
    assert "¥42.00" in response.content.decode()


def test_the_user_change_page_saves_with_an_email_and_links_the_credit(client, staff, shopper):
    client.force_login(staff)
    url = reverse("admin:accounts_user_change", args=[shopper.pk])

    page = client.get(url)
    response = client.post(
        url,
        {
            "email": "Shopper.Renamed@Example.com",
            "first_name": "",
            "last_name": "",
            "is_active": "on",
            "last_login_0": "",
            "last_login_1": "",
            "date_joined_0": "2026-01-01",
            "date_joined_1": "10:00:00",
        },
    )

    assert credit_url(shopper).encode() in page.content
    assert response.status_code == 302, response.context["adminform"].form.errors
    shopper.refresh_from_db()
    assert shopper.email == "shopper.renamed@example.com"
