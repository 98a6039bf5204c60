"""Row locks of accounts (see kamen.locking for the rules every lock keeps)."""

from kamen.locking import lock_one

from .models import User, Wallet


def lock_wallet(user: User) -> Wallet:
    return lock_one(Wallet.objects.all(), user=user)


def lock_member(user_id: int) -> User:
    """The user row, for what is kept on it under a lock: paid in all, and the level that follows from it."""
    return lock_one(User.objects.all(), pk=user_id)
