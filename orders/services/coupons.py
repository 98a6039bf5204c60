"""Using a coupon: which one the shopper asked for, whether it applies, and its use held at checkout,
taken when the order is paid and given back when it is cancelled or expires.

Every use of a coupon is taken and given back under the coupon's row lock, so its limits (uses in
all, uses per member, a single-use code, a granted coupon) are exact however many shoppers race.
"""

import secrets
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.db.models import F
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from djmoney.money import Money

from accounts import inbox
from accounts.models import Message, User
from accounts.selectors import level_of
from catalog import pricing
from catalog.models import Sku
from kamen.locking import require_transaction
from kamen.templatetags.money import yuan

from ..locks import lock_coupon
from ..models import Coupon, CouponCode, CouponGrant, CouponUse, Order, OrderEvent, normalize_code
from .reservation import CheckoutError
from .states import record_event

# How many of a member's own coupons checkout weighs and lists.
MEMBER_COUPONS_LISTED = 20


class CouponRefused(CheckoutError):
    """The coupon asked for cannot be used on this order; the message says why."""


@dataclass(frozen=True)
class CouponChoice:
    """A coupon the shopper asked for, and how: by its shared code, a single-use code, or a grant."""

    coupon: Coupon
    code: CouponCode | None = None
    grant: CouponGrant | None = None


def find_coupon(*, code: str = "", grant_id: int | None = None, user: User | None) -> CouponChoice | None:
    """The coupon a checkout names: a code typed, or one of the member's own granted coupons.

    None when neither is given; CouponRefused when what is given names nothing this shopper has.
    """
    if grant_id:
        grant = CouponGrant.objects.select_related("coupon").filter(pk=grant_id, user_id=getattr(user, "pk", None))
        grant = grant.first()
        if grant is None:
            raise CouponRefused(_("This coupon is not in your account."))
        return CouponChoice(coupon=grant.coupon, grant=grant)
    code = normalize_code(code)
    if not code:
        return None
    coupon = Coupon.objects.filter(code=code).first()
    if coupon is not None:
        return CouponChoice(coupon=coupon)
    single = CouponCode.objects.select_related("coupon").filter(code=code).first()
    if single is None:
        raise CouponRefused(_("There is no coupon with this code."))
    return CouponChoice(coupon=single.coupon, code=single)


def check_coupon(choice: CouponChoice, *, sku: Sku, user: User | None, now: datetime | None = None) -> None:
    """Raise CouponRefused, saying why, unless the coupon may be used on `sku` by `user` now.

    Its limits are read without a lock here, for an early answer; `hold_coupon` checks them again
    under the lock. Whether the order reaches its minimum spend is the pricing engine's to say.
    """
    coupon = choice.coupon
    now = now or timezone.now()
    if not coupon.is_active or (coupon.valid_from and now < coupon.valid_from):
        raise CouponRefused(_("This coupon cannot be used yet."))
    if coupon.valid_until and now >= coupon.valid_until:
        raise CouponRefused(_("This coupon has expired."))
    # Read from the row in hand, before any query: in a sale, every latecomer for the coupon gets this.
    _check_used_up(coupon)
    if not _covers(coupon, sku):
        raise CouponRefused(_("This coupon is not for this product."))
    if coupon.members_only and user is None:
        raise CouponRefused(_("Sign in to use this coupon."))
    allowed = set(coupon.levels.values_list("pk", flat=True))
    level = level_of(user)
    if allowed and (level is None or level.pk not in allowed):
        raise CouponRefused(_("This coupon is for other member levels."))
    if coupon.first_order_only and Order.objects.filter(user=user, paid_at__isnull=False).exists():
        raise CouponRefused(_("This coupon is for a first order only."))
    _check_limits(coupon, choice, user)


def quote_with_coupon(sku: Sku, quantity: int, *, user: User | None, choice: CouponChoice) -> pricing.Quote:
    """The quote with the coupon taken off; CouponRefused when the coupon would take nothing off."""
    quote = pricing.quote(sku, quantity, user=user, coupon=choice.coupon)
    if quote.coupon_refusal == pricing.BELOW_MINIMUM:
        raise CouponRefused(
            _("This coupon needs goods of at least %(amount)s.") % {"amount": yuan(choice.coupon.min_spend)}
        )
    if quote.coupon_refusal == pricing.MEMBER_PRICE_LOWER:
        raise CouponRefused(_("Your member price is already lower; this coupon does not combine with it."))
    return quote


def hold_coupon(order: Order, choice: CouponChoice, *, discount) -> CouponUse:
    """Hold one use of the coupon for an unpaid order, in the transaction that places it."""
    require_transaction(CouponUse)
    coupon = lock_coupon(choice.coupon.pk)
    _check_limits(coupon, choice, order.user)
    use = CouponUse.objects.create(
        order=order, coupon=coupon, code=choice.code, grant=choice.grant, user=order.user, discount=discount
    )
    Coupon.objects.filter(pk=coupon.pk).update(used_count=F("used_count") + 1)
    return use


def release_coupon(order: Order) -> bool:
    """Give back the use an unpaid order held (it was cancelled or expired); the order is locked."""
    use = CouponUse.objects.filter(order=order, state=CouponUse.State.HELD).first()
    if use is None:
        return False
    lock_coupon(use.coupon_id)
    _move(use, CouponUse.State.RELEASED)
    Coupon.objects.filter(pk=use.coupon_id).update(used_count=F("used_count") - 1)
    return True


def use_coupon(order: Order) -> None:
    """The order is paid: its held use becomes used. Paid after it expired, the use it gave back is
    taken again if one is left; if none is, the order keeps the price it was paid at (the money was
    taken) and staff read why in its history."""
    use = CouponUse.objects.filter(order=order).exclude(state=CouponUse.State.USED).first()
    if use is None:
        return
    if use.state == CouponUse.State.HELD:
        _move(use, CouponUse.State.USED)
        return
    coupon = lock_coupon(use.coupon_id)
    try:
        _check_limits(coupon, CouponChoice(coupon=coupon, code=use.code, grant=use.grant), order.user)
    except CouponRefused as refusal:
        record_event(order, OrderEvent.Type.COUPON_HONOURED, coupon=coupon.name, reason=str(refusal))
        return
    _move(use, CouponUse.State.USED)
    Coupon.objects.filter(pk=coupon.pk).update(used_count=F("used_count") + 1)


def _move(use: CouponUse, state: str) -> None:
    use.state = state
    use.updated_at = timezone.now()
    use.save(update_fields=["state", "updated_at"])


def _covers(coupon: Coupon, sku: Sku) -> bool:
    """Whether the coupon's goods include `sku`: every good when it names none."""
    skus = set(coupon.skus.values_list("pk", flat=True))
    products = set(coupon.products.values_list("pk", flat=True))
    categories = set(coupon.categories.values_list("pk", flat=True))
    if not (skus or products or categories):
        return True
    if sku.pk in skus or sku.product_id in products:
        return True
    category = sku.product.category  # a category covers its subcategories too
    return category.pk in categories or category.parent_id in categories


def _check_used_up(coupon: Coupon) -> None:
    if coupon.total_uses is not None and coupon.used_count >= coupon.total_uses:
        raise CouponRefused(_("This coupon has been used up."))


def _check_limits(coupon: Coupon, choice: CouponChoice, user: User | None) -> None:
    _check_used_up(coupon)
    active = coupon.uses.filter(state__in=CouponUse.ACTIVE)
    if choice.code is not None and active.filter(code=choice.code).exists():
        raise CouponRefused(_("This code has already been used."))
    if choice.grant is not None and active.filter(grant=choice.grant).exists():
        raise CouponRefused(_("You have already used this coupon."))
    limited = coupon.uses_per_member is not None and user is not None
    if limited and active.filter(user=user).count() >= coupon.uses_per_member:
        raise CouponRefused(_("You have already used this coupon as often as it allows."))


@dataclass(frozen=True)
class MemberCoupon:
    """One of the member's own coupons, as checkout lists it: what it saves on this order, or why not."""

    grant: CouponGrant
    saving: Money | None
    refusal: str = ""


@dataclass(frozen=True)
class PricePreview:
    """What the order would cost, as checkout shows it while the shopper chooses; nothing is written."""

    quote: pricing.Quote
    coupon_refusal: str = ""
    member_coupons: tuple[MemberCoupon, ...] = ()


def preview_price(
    sku: Sku, quantity: int, *, user: User | None, code: str = "", grant_id: int | None = None
) -> PricePreview:
    """Price `quantity` of `sku` as `place_order` would, with the coupon asked for, and the member's coupons."""
    quote, refusal = pricing.quote(sku, quantity, user=user), ""
    try:
        choice = find_coupon(code=code, grant_id=grant_id, user=user)
        if choice is not None:
            check_coupon(choice, sku=sku, user=user)
            quote = quote_with_coupon(sku, quantity, user=user, choice=choice)
    except CouponRefused as error:
        refusal = str(error)
    return PricePreview(quote=quote, coupon_refusal=refusal, member_coupons=tuple(_member_coupons(sku, quantity, user)))


def _member_coupons(sku: Sku, quantity: int, user: User | None) -> list[MemberCoupon]:
    if user is None:
        return []
    listed = []
    for grant in unused_grants(user)[:MEMBER_COUPONS_LISTED]:
        choice = CouponChoice(coupon=grant.coupon, grant=grant)
        try:
            check_coupon(choice, sku=sku, user=user)
            quote = quote_with_coupon(sku, quantity, user=user, choice=choice)
            listed.append(MemberCoupon(grant, quote.coupon_discount))
        except CouponRefused as error:
            listed.append(MemberCoupon(grant, None, str(error)))
    # The best saving first, then those that do not apply.
    return sorted(listed, key=lambda item: -(item.saving.amount if item.saving else -1))


def unused_grants(user: User):
    """The member's granted coupons that no order has used or holds, still valid, newest first."""
    now = timezone.now()
    return (
        CouponGrant.objects.filter(user=user, coupon__is_active=True)
        .exclude(uses__state__in=CouponUse.ACTIVE)
        .exclude(coupon__valid_until__lte=now)
        .select_related("coupon")
        .order_by("-granted_at", "-id")
    )


# Letters and digits that cannot be misread for one another (no 0/O, 1/I/L).
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
CODE_LENGTH = 10
MAX_CODES_PER_BATCH = 10_000


def generate_codes(coupon: Coupon, *, count: int, prefix: str = "") -> list[CouponCode]:
    """Make `count` new single-use codes for `coupon` (批量生成), each unique across every coupon."""
    prefix = normalize_code(prefix)
    if not 1 <= count <= MAX_CODES_PER_BATCH:
        raise ValueError(f"between 1 and {MAX_CODES_PER_BATCH} codes at a time")
    made: set[str] = set()
    while len(made) < count:
        fresh = {prefix + "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH)) for _ in range(count)}
        made |= set(sorted(fresh - made - _taken(fresh))[: count - len(made)])
    with transaction.atomic():
        # The unique column is the guard against a code made elsewhere meanwhile: the batch fails whole.
        return CouponCode.objects.bulk_create(CouponCode(coupon=coupon, code=code) for code in sorted(made))


def _taken(codes: set[str]) -> set[str]:
    taken, ordered = set(), sorted(codes)
    for start in range(0, len(ordered), 500):
        chunk = ordered[start : start + 500]
        taken |= set(CouponCode.objects.filter(code__in=chunk).values_list("code", flat=True))
        taken |= set(Coupon.objects.filter(code__in=chunk).values_list("code", flat=True))
    return taken


def grant_coupon(
    coupon: Coupon, user: User, *, reason: str, reference: str, actor: User | None = None
) -> tuple[CouponGrant, bool]:
    """Put `coupon` into `user`'s account (我的优惠券); returns the grant and whether it is new.

    The same `reference` (a staff request, a points redemption) grants once, however often it is sent.
    """
    grant, created = CouponGrant.objects.get_or_create(
        coupon=coupon, user=user, reference=reference[:64], defaults={"reason": reason, "actor": actor}
    )
    if created:
        inbox.notify(
            user,
            email=user.email,
            kind=Message.Kind.COUPON,
            key=f"coupon-grant:{grant.pk}",
            link=reverse("orders:coupons"),
            coupon=coupon.name,
        )
    return grant, created
