"""邀请有礼: what an invitation brings — a no-threshold coupon for the invitee at sign-up (the inviter's
cash reward is a commission of the invitee's first paid order, see commissions)."""

from django.conf import settings

from accounts.models import User
from kamen.money import cny
from orders.models import Coupon, CouponGrant
from orders.services.coupons import grant_coupon


def invitee_coupon() -> Coupon | None:
    """The coupon invitees receive, made the first time for the amount in settings; None when off."""
    amount = settings.INVITEE_COUPON_AMOUNT
    if amount <= 0:
        return None
    coupon, _created = Coupon.objects.get_or_create(
        kind=Coupon.Kind.NO_THRESHOLD,
        amount_off=cny(amount),
        # Stored in the shop's language, as goods are: one coupon, whatever language the invitee reads.
        name=f"好友邀请礼 立减{amount.normalize():f}元",
        defaults={"uses_per_member": 1, "is_active": True},
    )
    return coupon


def grant_invitee_coupon(member: User) -> CouponGrant | None:
    coupon = invitee_coupon()
    if coupon is None:
        return None
    grant, _created = grant_coupon(coupon, member, reason=CouponGrant.Reason.INVITED, reference=f"invitee:{member.pk}")
    return grant
