"""Row locks of accounts (see kamen.locking for the rules every lock keeps)."""

from kamen.locking import lock_one

from .models import User, Wallet


def lock_wallet(user: User) -> Wallet:
    return lock_one(Wallet.objects.all(), user=user)
