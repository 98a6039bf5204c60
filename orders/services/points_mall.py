"""The points mall (积分商城): a member spends points on a reward — a coupon into their account, wallet
credit, or goods delivered like any order — in one transaction under the reward's row lock, so its
stock and per-member limit are exact however many redeem at once, and points never go below zero."""

from django.db import transaction
from django.db.models import F
from django.utils.translation import gettext as _

from accounts import points
from accounts import services as wallet_services
from accounts.models import User, WalletEntry
from kamen import shop_settings

from ..locks import lock_reward
from ..models import CouponGrant, PointsRedemption, PointsReward
from .checkout import place_reward_order
from .coupons import grant_coupon


class RedemptionRefused(Exception):
    """The reward cannot be had now; the message says why. Nothing was written."""


def redeem(reward_id: int, *, user: User) -> PointsRedemption:
    """Spend the reward's points and give it to `user`; RedemptionRefused (or OutOfStock for goods)
    rolls everything back."""
    if not shop_settings.current().points_mall:
        raise RedemptionRefused(_("The points mall is closed for now."))
    with transaction.atomic():
        reward = lock_reward(reward_id)
        _check(reward, user)
        redemption = PointsRedemption.objects.create(reward=reward, user=user, points=reward.points)
        reference = f"points:{redemption.pk}"
        try:
            points.spend_points(user, reward.points, reference=reference, note=reward.name)
        except points.PointsRefused as error:
            raise RedemptionRefused(str(error)) from None
        PointsReward.objects.filter(pk=reward.pk).update(redeemed_count=F("redeemed_count") + 1)
        if reward.kind == PointsReward.Kind.COUPON:
            grant_coupon(reward.coupon, user, reason=CouponGrant.Reason.POINTS, reference=reference)
        elif reward.kind == PointsReward.Kind.CREDIT:
            wallet_services.credit_wallet(
                user, reward.credit, actor=None, kind=WalletEntry.Kind.POINTS, reference=reference, note=reward.name
            )
        else:
            placed = place_reward_order(reward.sku, user=user, reward=reward.name, points=reward.points)
            redemption.order = placed.order
            redemption.save(update_fields=["order"])
    return redemption


def _check(reward: PointsReward, user: User) -> None:
    if not reward.is_active:
        raise RedemptionRefused(_("This reward is no longer offered."))
    if reward.left == 0:
        raise RedemptionRefused(_("This reward is all gone."))
    taken = PointsRedemption.objects.filter(reward=reward, user=user).count()
    if reward.per_member is not None and taken >= reward.per_member:
        raise RedemptionRefused(_("You have had this reward as often as it allows."))
