"""Row locks of accounts (see kamen.locking for the rules every lock keeps)."""

from kamen.locking import lock_one

from .models import PointsAccount, User, Wallet


def lock_wallet(user: User) -> Wallet:
    return lock_one(Wallet.objects.all(), user=user)


def lock_member(user_id: int) -> User:
    """The user row, for what is kept on it under a lock: paid in all, and the level that follows from it."""
    return lock_one(User.objects.all(), pk=user_id)


def lock_points(user: User) -> PointsAccount:
    return lock_one(PointsAccount.objects.all(), user=user)
