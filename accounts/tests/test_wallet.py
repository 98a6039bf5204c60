from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction

from accounts import services
from accounts.models import Wallet, WalletEntry
from kamen.money import cny


def test_credits_and_debits_are_ledger_lines_that_sum_to_the_balance(shopper):
    services.credit_wallet(shopper, cny("100.00"), actor=None, note="top up")
    services.debit_wallet(shopper, cny("30.50"), reference="P1")

    wallet = Wallet.objects.get(user=shopper)
    amounts = [e.amount.amount for e in WalletEntry.objects.filter(wallet=wallet)]
    assert wallet.balance.amount == Decimal("69.50") == sum(amounts)
    assert WalletEntry.objects.filter(wallet=wallet).first().balance_after == wallet.balance


def test_a_debit_beyond_the_balance_changes_nothing(shopper):
    services.credit_wallet(shopper, cny("5.00"), actor=None)

    with pytest.raises(services.InsufficientBalance):
        services.debit_wallet(shopper, cny("5.01"), reference="P1")

    assert Wallet.objects.get(user=shopper).balance.amount == Decimal("5.00")
    assert WalletEntry.objects.count() == 1


@pytest.mark.parametrize("amount", ["0", "-1.00"])
def test_credits_must_be_positive(shopper, amount):
    with pytest.raises(ValueError):
        services.credit_wallet(shopper, cny(amount), actor=None)


def test_the_database_refuses_a_negative_balance(shopper):
    wallet = services.get_or_create_wallet(shopper)
    with pytest.raises(IntegrityError), transaction.atomic():
        Wallet.objects.filter(pk=wallet.pk).update(balance=Decimal("-0.01"))


@pytest.mark.usefixtures("shipped_password_hashing")
def test_passwords_are_hashed_with_argon2(db, user_factory):
    assert user_factory(email="argon@example.com").password.startswith("argon2")


def test_a_repeated_reference_moves_money_once(shopper):
    services.credit_wallet(shopper, cny("20.00"), actor=None, reference="admin:form-1")
    services.credit_wallet(shopper, cny("20.00"), actor=None, reference="admin:form-1")
    services.debit_wallet(shopper, cny("5.00"), reference="P1")
    services.debit_wallet(shopper, cny("5.00"), reference="P1")

    assert Wallet.objects.get(user=shopper).balance.amount == Decimal("15.00")
    assert WalletEntry.objects.count() == 2
