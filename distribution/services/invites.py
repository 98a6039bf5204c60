"""Invitations and the referral tree: every member's invite code, binding an inviter once and forever,
the traces (device, address) that tell a second account of the inviter from a real new member."""

import ipaddress
import logging

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from orders.models import Order

from ..locks import lock_referrers
from ..models import INVITE_ALPHABET, Referrer, Sighting
from .rewards import grant_invitee_coupon

logger = logging.getLogger("distribution.invites")


class InviteRefused(Exception):
    """A binding refused for a reason the member should read; the tree is unchanged."""


def referrer_for(user: User) -> Referrer:
    """The member's referrer row (invite code, upline, balances), made the first time it is needed."""
    try:
        return Referrer.objects.get_or_create(user=user)[0]
    except IntegrityError:  # a new invite code taken a moment earlier by someone else: draw again
        return Referrer.objects.get_or_create(user=user)[0]


def normalize_invite_code(text: str) -> str:
    code = "".join(str(text).split()).upper()[:12]
    return code if code and all(char in INVITE_ALPHABET for char in code) else ""


def find_referrer(code: str) -> Referrer | None:
    code = normalize_invite_code(code)
    return Referrer.objects.filter(code=code).first() if code else None


def record_sighting(user: User, *, device: str, ip: str | None) -> None:
    """Remember that `user` signed up or in from this device fingerprint and address.

    A device the member shares with someone three levels above or below them in the tree is a
    reseller buying through their own downline (刷单): the member below is flagged, and the rewards
    and commissions of their orders wait for staff.
    """
    if not (device or ip):
        return
    _sighting, created = Sighting.objects.get_or_create(user=user, device=device, ip=ip)
    if created and device:
        _flag_shared_device(user, device)


def _flag_shared_device(user: User, device: str) -> None:
    others = Sighting.objects.filter(device=device).exclude(user=user).values("user_id")
    shared_above = Q(user=user) & (Q(inviter__in=others) | Q(upline_2__in=others) | Q(upline_3__in=others))
    shared_below = Q(user__in=others) & (Q(inviter=user) | Q(upline_2=user) | Q(upline_3=user))
    Referrer.objects.filter(shared_above | shared_below, flag="").update(
        flag=_("Signs in on a device a member above them uses.")
    )


def join(user: User, *, invite_code: str, device: str, ip: str | None) -> Referrer:
    """A new member's first steps in the tree: their referrer row with the sign-up address, the
    sighting, and the inviter whose link they came by, if any (a bad or stale code is ignored)."""
    referrer = referrer_for(user)
    if ip and referrer.signup_ip is None:
        Referrer.objects.filter(pk=referrer.pk).update(signup_ip=ip)
    record_sighting(user, device=device, ip=ip)
    if invite_code:
        try:
            referrer = bind_inviter(user, invite_code, device=device, ip=ip)
        except InviteRefused as refusal:
            logger.info("sign-up of %s: invite %r refused: %s", user.pk, invite_code, refusal)
    return referrer


def bind_inviter(member: User, code: str, *, device: str = "", ip: str | None = None) -> Referrer:
    """Bind the member whose code is `code` as `member`'s inviter, once and forever.

    Both referrer rows are locked (in primary-key order), so two members binding to each other at
    once queue up and the second finds the cycle. Refused: an unknown code, one's own, a member who
    already has an inviter, and an inviter who is in the member's own downline. Members the member
    invited before binding move along: their upline gains the new levels (still three at most).
    """
    inviter = find_referrer(code)
    if inviter is None:
        raise InviteRefused(_("No member has this invite code."))
    if inviter.user_id == member.pk:
        raise InviteRefused(_("You cannot use your own invite code."))
    referrer_for(member)
    with transaction.atomic():
        rows = lock_referrers([member.pk, inviter.user_id])
        mine, theirs = rows[member.pk], rows[inviter.user_id]
        if mine.inviter_id is not None:
            raise InviteRefused(_("Your inviter is already set and cannot change."))
        if member.pk in _ancestors(theirs):
            raise InviteRefused(_("This member joined through your invitation, so they cannot invite you."))
        mine.inviter_id, mine.upline_2_id, mine.upline_3_id = theirs.user_id, theirs.inviter_id, theirs.upline_2_id
        mine.bound_at = timezone.now()
        mine.flag = _shared_trace(theirs.user_id, device=device, ip=ip or mine.signup_ip)
        # A member who bought before binding brings no invite reward.
        mine.first_order_paid = Order.objects.filter(user=member, paid_at__isnull=False).exists()
        mine.save(update_fields=["inviter", "upline_2", "upline_3", "bound_at", "flag", "first_order_paid"])
        # Level 1 below first: it waits for any binding under those members, so level 2 is read after it.
        Referrer.objects.filter(inviter_id=member.pk).update(upline_2_id=theirs.user_id, upline_3_id=theirs.inviter_id)
        Referrer.objects.filter(upline_2_id=member.pk).update(upline_3_id=theirs.user_id)
        if not mine.flag:
            # A second account on the inviter's own device or address gets no new-member coupon.
            grant_invitee_coupon(member)
    logger.info(
        "member %s bound to inviter %s%s", member.pk, theirs.user_id, f" (flagged: {mine.flag})" * bool(mine.flag)
    )
    return mine


def _ancestors(referrer: Referrer) -> set[int]:
    """Everyone above `referrer`, however far: the tree may be deeper than the levels that earn. Read
    three levels a row; binding refuses every cycle, and the bound stops a walk should one exist."""
    seen: set[int] = set()
    row = referrer
    while row is not None and len(seen) < 100_000:
        seen.update(row.upline())
        if row.upline_3_id is None:
            break
        row = Referrer.objects.filter(user_id=row.upline_3_id).only("inviter", "upline_2", "upline_3").first()
    return seen


def _shared_trace(inviter_id: int, *, device: str, ip: str | None) -> str:
    """Why the invitee looks like the inviter on a second account, or "" if nothing says so."""
    if device and Sighting.objects.filter(user_id=inviter_id, device=device).exists():
        return _("Signed up on a device the inviter uses.")
    # Loopback is everyone when the shop runs on one machine or a proxy hides the addresses: no sign.
    if (
        ip
        and not ipaddress.ip_address(ip).is_loopback
        and (
            Sighting.objects.filter(user_id=inviter_id, ip=ip).exists()
            or Referrer.objects.filter(user_id=inviter_id, signup_ip=ip).exists()
        )
    ):
        return _("Signed up from an address the inviter uses.")
    return ""
