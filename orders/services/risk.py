"""Risk rules (风控): the blacklist that refuses checkout, per-buyer daily limits of a SKU, and the soft
rules that send a paid order to the staff queue instead of delivering it.

A hard rule refuses before anything is written. A soft rule never refuses money: the order is paid
and waits, with the rule named in its abnormal reason, until staff release it.
"""

import ipaddress
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import transaction
from django.db.models import Q, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from catalog.models import Sku
from kamen import audit
from kamen.locking import lock_names
from kamen.templatetags.money import yuan

from ..models import BlockedBuyer, Order
from ..models.risk import normalized_value
from .reservation import CheckoutError

# The shop's day for limits is the day in China, whatever TIME_ZONE a server runs with.
SHOP_DAY = ZoneInfo("Asia/Shanghai")
# Orders that count towards a daily limit: every one placed that was not given up or left to expire.
UNCOUNTED = (Order.Status.CANCELLED, Order.Status.EXPIRED)
BLACKLIST_FIELDS = ("kind", "value", "reason", "expires_at")


class BuyerBlocked(CheckoutError):
    """The buyer matches the blacklist; the message never says which entry or why."""


class DailyLimitReached(CheckoutError):
    pass


@dataclass(frozen=True)
class Buyer:
    """Who is buying, as the risk rules tell buyers apart: the account, or for a guest the contact
    e-mail, the address and the device fingerprint (kamen.http.device_fingerprint)."""

    user: User | None
    email: str
    ip: str | None = None
    device: str = ""

    @classmethod
    def of_order(cls, order: Order) -> "Buyer":
        return cls(user=order.user, email=order.contact_email, ip=order.buyer_ip, device=order.device)


def blocked_message() -> str:
    return _("This account cannot place orders right now. If you have questions, please contact customer service.")


def blocking_entry(buyer: Buyer) -> BlockedBuyer | None:
    """The active blacklist entry that matches the buyer's e-mail, address or device, if any.

    One query: the exact entries that could match, and every IP entry, whose networks are matched
    here so one table serves every database, SQLite included (a blacklist is short).
    """
    K = BlockedBuyer.Kind
    candidates = Q(kind=K.IP) if buyer.ip else Q(pk__in=[])
    if buyer.email:
        candidates |= Q(kind=K.EMAIL, value=buyer.email.strip().lower())
    if buyer.device:
        candidates |= Q(kind=K.DEVICE, value=buyer.device.lower())
    address = _address(buyer.ip)
    for entry in BlockedBuyer.objects.active().filter(candidates).only("pk", "kind", "value"):
        if entry.kind != K.IP or (address is not None and _in_network(address, entry.value)):
            return entry
    return None


def _address(ip: str | None):
    try:
        return ipaddress.ip_address(ip) if ip else None
    except ValueError:
        return None


def _in_network(address, network: str) -> bool:
    try:
        return address in ipaddress.ip_network(network, strict=False)
    except ValueError:
        return False


def check_not_blocked(buyer: Buyer) -> None:
    """Refuse a blacklisted buyer's checkout (BuyerBlocked), before anything is written."""
    if blocking_entry(buyer) is not None:
        raise BuyerBlocked(blocked_message())


def day_start(now: datetime | None = None) -> datetime:
    """Midnight of today in China, the start of every daily limit."""
    local = timezone.localtime(now or timezone.now(), SHOP_DAY)
    return local.replace(hour=0, minute=0, second=0, microsecond=0)


def check_daily_limit(sku: Sku, *, quantity: int, buyer: Buyer) -> None:
    """Inside the placing transaction: refuse (DailyLimitReached) when today's pieces of `sku` for this
    buyer, with `quantity` more, would pass the SKU's daily limit.

    The count is taken under named locks of this buyer and SKU, held until the order commits, so two
    checkouts of one buyer can never both see room for the last pieces; other buyers do not wait.
    """
    limit = sku.daily_limit_per_buyer
    if limit is None:
        return
    keys = _buyer_keys(buyer)
    lock_names([f"daily-limit:{sku.pk}:{key}" for key in keys])
    bought = _bought_today(sku, buyer)
    if bought + quantity > limit:
        raise DailyLimitReached(_("Limit: %(limit)s per person per day.") % {"limit": limit})


def _buyer_keys(buyer: Buyer) -> list[str]:
    if buyer.user is not None:
        return [f"user:{buyer.user.pk}"]
    keys = [f"email:{buyer.email.strip().lower()}"]
    keys += [f"device:{buyer.device}"] if buyer.device else []
    keys += [f"ip:{buyer.ip}"] if buyer.ip else []
    return keys


def _bought_today(sku: Sku, buyer: Buyer) -> int:
    orders = Order.objects.filter(sku=sku, created_at__gte=day_start()).exclude(status__in=UNCOUNTED)
    if buyer.user is not None:
        orders = orders.filter(user=buyer.user)
    else:
        # A guest is the same buyer by any of the three: a fresh e-mail alone does not reset the limit.
        same = Q(contact_email__iexact=buyer.email.strip())
        same |= Q(device=buyer.device) if buyer.device else Q()
        same |= Q(buyer_ip=buyer.ip) if buyer.ip else Q()
        orders = orders.filter(same, user__isnull=True)
    return orders.aggregate(pieces=Sum("quantity"))["pieces"] or 0


def hold_reason(order: Order) -> str:
    """The soft rule a just-paid order trips, in the shop's words for the staff queue; "" for none.

    Called in the confirming transaction: what it reads are the order's own fields and a few counts.
    """
    if blocking_entry(Buyer.of_order(order)) is not None:
        return _("Risk rule: the buyer was blacklisted after placing the order.")
    if _large_from_new_buyer(order):
        return _("Risk rule: a large order (%(total)s) from a new account or a guest.") % {"total": yuan(order.total)}
    if _burst(order):
        return _("Risk rule: many paid orders from one address or device in a short time.")
    return ""


def _large_from_new_buyer(order: Order) -> bool:
    threshold = settings.RISK_HOLD_NEW_BUYER_TOTAL
    if not threshold or order.total.amount < threshold:
        return False
    # A guest has no history at all: as new as an account made a minute ago.
    if order.user_id is None:
        return True
    return order.user.date_joined > timezone.now() - settings.RISK_NEW_ACCOUNT_AGE


def _burst(order: Order) -> bool:
    most = settings.RISK_BURST_ORDERS
    # API orders come from a reseller's own server, where many orders from one address are the point.
    if not most or order.api_key_id is not None or not (order.buyer_ip or order.device):
        return False
    same = Q(buyer_ip=order.buyer_ip) if order.buyer_ip else Q(pk__in=[])
    same |= Q(device=order.device) if order.device else Q()
    since = timezone.now() - settings.RISK_BURST_WINDOW
    return Order.objects.filter(same, paid_at__gte=since).exclude(pk=order.pk).count() >= most


def block_buyer(entry: BlockedBuyer, *, actor: User | None) -> BlockedBuyer:
    """Add a blacklist entry (or save staff's edit of one), with its audit row."""
    entry.value = normalized_value(entry.kind, entry.value)
    with transaction.atomic():
        before = {}
        if entry.pk is not None:
            before = audit.snapshot(BlockedBuyer.objects.get(pk=entry.pk), BLACKLIST_FIELDS)
        else:
            entry.created_by = actor if getattr(actor, "pk", None) else None
        entry.save()
        after = audit.snapshot(entry, BLACKLIST_FIELDS)
        before, after = audit.changed(before, after) if before else (before, after)
        audit.record(audit.Kind.RISK_RULE, actor=actor, target=entry, before=before, after=after)
    return entry


def unblock_buyer(entry: BlockedBuyer, *, actor: User | None) -> None:
    """Remove a blacklist entry, with its audit row."""
    with transaction.atomic():
        audit.record(audit.Kind.RISK_RULE, actor=actor, target=entry, before=audit.snapshot(entry, BLACKLIST_FIELDS))
        entry.delete()
