"""Buying a member level outright (代理 for ¥199): paid like any order, through a gateway or the wallet;
the level is granted in the transaction that confirms the payment (orders.purposes.LevelPurchasePurpose)."""

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import MemberLevel, User
from kamen.money import cny
from payments import services as payment_services
from payments.models import Payment
from payments.providers import get_provider

from ..models import LEVEL_PURPOSE, LevelPurchase
from .reservation import CheckoutError


class LevelPurchaseRefused(CheckoutError):
    """The level cannot be bought now, for a reason the member should read; nothing was written."""


def level_purchase_refusal(level: MemberLevel, *, user: User) -> str | None:
    """Why `user` cannot buy `level`, or None when they can."""
    if level.price is None:
        return _("This level is not for sale.")
    if user.level is not None and user.level.rank >= level.rank:
        return _("You are at this level or a higher one already.")
    return None


def start_level_purchase(level: MemberLevel, *, user: User, provider: str) -> Payment:
    """Open the payment that buys `level` for `user`; the level is theirs once it is confirmed."""
    refusal = level_purchase_refusal(level, user=user)
    if refusal:
        raise LevelPurchaseRefused(refusal)
    gateway = get_provider(provider)
    if gateway is None or not gateway.is_available(user=user):
        raise LevelPurchaseRefused(_("This payment method is not available."))
    now = timezone.now()
    price = cny(level.price)
    with transaction.atomic():
        payment = payment_services.create_payment(
            LEVEL_PURPOSE,
            amount=price,
            provider=provider,
            description=f"会员等级 {level.name}",
            user=user,
            created_at=now,
            expires_at=now + timedelta(minutes=settings.TOPUP_MINUTES),
        )
        LevelPurchase.objects.create(payment=payment, user=user, level=level, price=price, created_at=now)
    return payment
