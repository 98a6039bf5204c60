"""Commissions (分销佣金): earned in the transaction that confirms an order's payment, taken back in the
one that records its refund, decided by staff when held for review.

The base is what the buyer paid for the goods. Each of up to three members above the buyer earns
their tier's rate of it (the nearest staff rule, times their level's factor), in fen rounded half
up, and all of them together never more than the base.
"""

import logging
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import MemberLevel, User
from catalog.models import Product
from kamen.locking import require_transaction
from kamen.money import cny, round_fen
from orders.models import Order
from payments.models import Payment, Refund

from ..locks import lock_commission, lock_commissions_of_order
from ..models import TIERS, Commission, CommissionRule, LedgerEntry, LevelTerms, Referrer
from .ledger import post, post_many

logger = logging.getLogger("distribution.commissions")

C = Commission
K = LedgerEntry.Kind
UPLINE = ("inviter_id", "upline_2_id", "upline_3_id")


class ReviewRefused(Exception):
    """A staff decision on a commission that is not waiting for one; nothing changed."""


@dataclass(frozen=True)
class Earning:
    may_earn: bool
    factor: Decimal


def tier_rates(product: Product) -> tuple[Decimal, Decimal, Decimal]:
    """The rates in per cent for the three tiers: the product's rule, else its category's (a
    subcategory's before its parent's), else the rule for all goods, else settings.COMMISSION_RATES."""
    categories = [product.category_id, *([product.category.parent_id] if product.category.parent_id else [])]
    rules = CommissionRule.objects.filter(
        Q(scope=CommissionRule.Scope.ALL) | Q(product_id=product.pk) | Q(category_id__in=categories)
    ).only("product_id", "category_id", "rate_1", "rate_2", "rate_3")

    def nearness(rule: CommissionRule) -> int:
        if rule.product_id:
            return 0
        return 1 + categories.index(rule.category_id) if rule.category_id else 9

    nearest = min(rules, key=nearness, default=None)
    return nearest.rates if nearest else settings.COMMISSION_RATES


# Every level's commission terms and which level is the lowest, cached: they change only when staff
# edit them (LevelTermsAdmin forgets the copy at once; a change of the levels' ranks, which decides
# the lowest, shows within TERMS_SECONDS).
TERMS_KEY = "distribution:level-terms"
TERMS_SECONDS = 60


def level_terms() -> tuple[int | None, dict[int, Earning]]:
    """(the lowest level's id, each level's terms) from the cache, read from the database on a miss."""
    cached = cache.get(TERMS_KEY)
    if cached is None:
        lowest = MemberLevel.objects.order_by("rank").values_list("pk", flat=True).first()
        terms = {t.level_id: Earning(t.may_earn, t.rate_factor) for t in LevelTerms.objects.all()}
        cached = (lowest, terms)
        cache.set(TERMS_KEY, cached, TERMS_SECONDS)
    return cached


def forget_level_terms() -> None:
    cache.delete(TERMS_KEY)


def earning_terms(levels: dict[int, int | None]) -> dict[int, Earning]:
    """Whether each member may earn, and the factor on their rates, from their level's terms (a member
    with no level has the lowest level's); a level without terms earns at the rules' rates.
    `levels` maps each member to their level's id."""
    lowest, terms = level_terms()
    default = Earning(True, Decimal("1"))
    return {pk: terms.get(level if level is not None else lowest, default) for pk, level in levels.items()}


def _suspicion(order: Order, *, payment: Payment, upline: list[int]) -> str:
    """Why this purchase looks like an upline member buying through their own downline (刷单), or "".

    A device shared with the upline is found when the sighting is recorded (`invites.record_sighting`
    flags the member); here only the payment account is left to compare.
    """
    if not payment.payer_account:
        return ""
    same_payer = Payment.objects.filter(
        user_id__in=upline, provider=payment.provider, payer_account=payment.payer_account
    ).exclude(pk=payment.pk)
    return _("Paid from a payment account a member above the buyer uses.") if same_payer.exists() else ""


def accrue_commissions(order: Order, *, payment: Payment) -> list[Commission]:
    """Write the pending commissions of a just-paid order, one per tier and the invite reward, with
    their ledger entries. Called by the order's payment purpose in the confirming transaction with the
    order row locked. An order is paid once (its move to paid is made once), so this runs once per
    order; the database allows one commission per order and tier behind that."""
    require_transaction(Order)
    if order.user_id is None or order.total.amount <= 0:
        return []
    # The buyer's row with the three members above and their levels: one statement, for every purchase.
    buyer = (
        Referrer.objects.filter(user_id=order.user_id)
        .values("pk", "flag", "first_order_paid", *UPLINE, *(f"{name[:-3]}__level_id" for name in UPLINE))
        .first()
    )
    if buyer is None or buyer["inviter_id"] is None:
        return []
    levels = {buyer[name]: buyer[f"{name[:-3]}__level_id"] for name in UPLINE if buyer[name] is not None}
    upline = list(levels)
    flag = buyer["flag"] or _suspicion(order, payment=payment, upline=upline)
    terms = earning_terms(levels)
    commissions = _sale_commissions(order, upline, terms, flag=flag)
    if not buyer["first_order_paid"]:
        # The invitee's first paid order: the inviter's reward, whatever is left of the base.
        Referrer.objects.filter(pk=buyer["pk"]).update(first_order_paid=True)
        amount = min(settings.INVITE_REWARD, order.total.amount - sum(c.amount.amount for c in commissions))
        if amount > 0 and terms[upline[0]].may_earn:
            commissions.append(_commission(order, upline[0], C.Kind.INVITE, amount, flag=flag, now=timezone.now()))
    if not commissions:
        return []
    Commission.objects.bulk_create(commissions)
    post_many(
        [
            LedgerEntry(member_id=c.earner_id, kind=K.EARNED, amount=c.amount, commission=c, reference=f"c{c.pk}")
            for c in commissions
        ]
    )
    if flag:
        logger.warning("commissions of order %s held for review: %s", order.number, flag)
    return commissions


def _sale_commissions(order: Order, upline: list[int], terms: dict[int, Earning], *, flag: str) -> list[Commission]:
    rates = tier_rates(order.sku.product)
    base = order.total.amount
    left = base
    now = timezone.now()
    commissions = []
    for tier, earner_id in zip(TIERS, upline, strict=False):
        earning = terms.get(earner_id)
        rate = min(rates[tier - 1] * earning.factor, Decimal(100)) if earning and earning.may_earn else Decimal(0)
        amount = min(round_fen(base * rate / 100), left)
        if amount <= 0:
            continue
        left -= amount
        commissions.append(_commission(order, earner_id, C.Kind.SALE, amount, tier=tier, rate=rate, flag=flag, now=now))
    return commissions


def _commission(order, earner_id, kind, amount, *, tier=None, rate=None, flag, now) -> Commission:
    return Commission(
        earner_id=earner_id,
        buyer_id=order.user_id,
        order=order,
        kind=kind,
        tier=tier,
        rate=round(rate, 2) if rate is not None else None,
        base=order.total,
        amount=cny(amount),
        state=C.State.REVIEW if flag else C.State.PENDING,
        flag=flag[:200],
        created_at=now,
        settle_after=now + settings.COMMISSION_HOLD,
    )


def reverse_commissions(order: Order, refund: Refund) -> list[LedgerEntry]:
    """Take back the order's commissions in proportion to `refund` (all that is left on a full refund),
    from pending or, once settled, from available: a reseller who already withdrew goes below zero
    and earns it back. Called by the order's payment purpose with the refund and order locked."""
    commissions = [c for c in lock_commissions_of_order(order.pk) if c.state != C.State.REVERSED]
    if (
        not commissions
        or LedgerEntry.objects.filter(
            commission__in=commissions, reference__startswith=f"{refund.refund_no}:c"
        ).exists()
    ):
        return []
    fully = order.refunded.amount >= order.total.amount
    share = refund.amount.amount / order.total.amount
    entries = []
    for commission in commissions:
        left = commission.remaining.amount
        amount = left if fully else min(round_fen(commission.amount.amount * share), left)
        if amount > 0:
            entries.append(_take_back(commission, cny(amount), refund.refund_no))
    return entries


def _take_back(commission: Commission, amount, reference: str, *, actor=None, note="") -> LedgerEntry:
    """Under the commission's lock: from pending before it settled, from available after."""
    kind = K.REVERSED_AVAILABLE if commission.state == C.State.SETTLED else K.REVERSED_PENDING
    entry = post(
        commission.earner_id,
        kind,
        amount,
        reference=f"{reference}:c{commission.pk}",
        commission=commission,
        actor=actor,
        note=note,
    )
    commission.reversed += amount
    fields = ["reversed"]
    if commission.reversed == commission.amount:
        commission.state = C.State.REVERSED
        fields.append("state")
    commission.save(update_fields=fields)
    return entry


def approve_commission(commission: Commission, *, actor: User) -> Commission:
    """Staff find a held commission genuine: it settles like any other once its hold is over."""
    return _decide(commission, actor=actor, approve=True)


def reject_commission(commission: Commission, *, actor: User, note: str = "") -> Commission:
    """Staff find a held commission abusive (刷单, 薅羊毛): it is taken back whole, with the reason."""
    return _decide(commission, actor=actor, approve=False, note=note)


def _decide(commission: Commission, *, actor: User, approve: bool, note: str = "") -> Commission:
    with transaction.atomic():
        locked = lock_commission(commission.pk)
        if locked.state != C.State.REVIEW:
            raise ReviewRefused(_("This commission is not waiting for review."))
        locked.reviewed_by, locked.reviewed_at = actor, timezone.now()
        locked.save(update_fields=["reviewed_by", "reviewed_at"])
        if approve:
            locked.state = C.State.PENDING
            locked.save(update_fields=["state"])
        else:
            _take_back(locked, locked.remaining, "review", actor=actor, note=note or _("Rejected in review"))
    return locked
