"""Wallet writes. A balance changes only under its wallet row lock, together with its ledger entry."""

from dataclasses import dataclass

from allauth.account.models import EmailAddress
from django.db import transaction
from djmoney.money import Money

from kamen import audit

from .locks import lock_wallet
from .models import User, Wallet, WalletEntry


class InsufficientBalance(Exception):
    pass


@dataclass(frozen=True)
class WalletChange:
    wallet: Wallet
    entry: WalletEntry


def confirm_email(user: User) -> EmailAddress:
    """Record the user's e-mail as verified, so they sign in without a confirmation mail first.

    Only for accounts whose address someone with access to the server vouches for: the demo logins,
    staff made with `createsuperuser`. Everyone else confirms by the link mailed at sign-up.
    """
    address, _ = EmailAddress.objects.update_or_create(
        user=user, email=user.email, defaults={"verified": True, "primary": True}
    )
    return address


def get_or_create_wallet(user: User) -> Wallet:
    wallet, _ = Wallet.objects.get_or_create(user=user)
    return wallet


def _post_entry(user: User, amount: Money, *, kind: str, reference: str, note: str, actor: User | None) -> WalletChange:
    get_or_create_wallet(user)
    with transaction.atomic():
        wallet = lock_wallet(user)
        if reference:
            # A reference names one movement (a payment, a credit form): repeating it changes nothing.
            repeated = WalletEntry.objects.filter(wallet=wallet, kind=kind, reference=reference).first()
            if repeated is not None:
                return WalletChange(wallet=wallet, entry=repeated)
        new_balance = wallet.balance + amount
        if new_balance.amount < 0:
            raise InsufficientBalance(f"balance {wallet.balance} is less than {-amount}")
        wallet.balance = new_balance
        wallet.save(update_fields=["balance", "updated_at"])
        entry = WalletEntry.objects.create(
            wallet=wallet,
            kind=kind,
            amount=amount,
            balance_after=new_balance,
            reference=reference,
            note=note,
            actor=actor,
        )
        if actor is not None and kind == WalletEntry.Kind.CREDIT:
            audit.record(
                audit.Kind.WALLET_CREDIT,
                actor=actor,
                target=wallet,
                before={"balance": wallet.balance - amount},
                after={"balance": new_balance, "amount": amount},
                note=note,
            )
    return WalletChange(wallet=wallet, entry=entry)


def credit_wallet(
    user: User,
    amount: Money,
    *,
    actor: User | None,
    note: str = "",
    kind: str = WalletEntry.Kind.CREDIT,
    reference: str = "",
) -> WalletChange:
    """Add money to a wallet (staff credit, refunds)."""
    if amount.amount <= 0:
        raise ValueError("A credit must be positive.")
    return _post_entry(user, amount, kind=kind, reference=reference, note=note, actor=actor)


def debit_wallet(user: User, amount: Money, *, reference: str, note: str = "") -> WalletChange:
    """Take money from a wallet for a payment; raises InsufficientBalance rather than go below zero."""
    if amount.amount <= 0:
        raise ValueError("A debit must be positive.")
    return _post_entry(user, -amount, kind=WalletEntry.Kind.PAYMENT, reference=reference, note=note, actor=user)
