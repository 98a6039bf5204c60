"""Distribution writes: the referral tree, commissions and their ledger, settlement, withdrawals."""

from kamen.http import device_fingerprint

from .commissions import (
    ReviewRefused,
    accrue_commissions,
    approve_commission,
    reject_commission,
    reverse_commissions,
    tier_rates,
)
from .invites import InviteRefused, bind_inviter, find_referrer, join, record_sighting, referrer_for
from .settlement import settle_due_commissions
from .withdrawals import (
    WithdrawalRefused,
    apply_transfer_result,
    approve_and_send,
    decline_withdrawal,
    mark_paid_by_hand,
    request_withdrawal,
    sync_sending_withdrawal,
    withdrawal_fee,
)

__all__ = [
    "InviteRefused",
    "ReviewRefused",
    "WithdrawalRefused",
    "accrue_commissions",
    "apply_transfer_result",
    "approve_and_send",
    "approve_commission",
    "bind_inviter",
    "decline_withdrawal",
    "device_fingerprint",
    "find_referrer",
    "join",
    "mark_paid_by_hand",
    "record_sighting",
    "referrer_for",
    "reject_commission",
    "request_withdrawal",
    "reverse_commissions",
    "settle_due_commissions",
    "sync_sending_withdrawal",
    "tier_rates",
    "withdrawal_fee",
]
