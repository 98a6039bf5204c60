"""Withdrawals (提现): a reseller takes available commissions out, to an Alipay account after staff
approve, or into their wallet at once.

The amount is held from the available balance under the member's row lock when asked for, so two
requests at once can never overdraw. A transfer is never sent under a lock (promise 9): the
withdrawal is committed as "sending", the gateway called, and its answer applied in a new
transaction; an unknown answer is resolved by asking the gateway about our request number (its
idempotency key), never by sending again.
"""

import logging
import re
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts import services as wallet_services
from accounts.models import User, WalletEntry
from kamen.locking import require_transaction
from kamen.money import cny, round_fen
from payments.payouts import PayoutResult, PayoutState, get_payout_gateway
from payments.providers.base import GatewayError

from ..locks import lock_referrer, lock_withdrawal
from ..models import WITHDRAWAL_MOVES, LedgerEntry, Withdrawal, WithdrawalEvent
from ..selectors import balances_of
from .invites import referrer_for
from .ledger import post

logger = logging.getLogger("distribution.withdrawals")

W = Withdrawal.State
K = LedgerEntry.Kind
E = WithdrawalEvent.Type
PHONE = re.compile(r"1\d{10}")
# What the payee reads on their Alipay bill.
PAYOUT_TITLE = "佣金提现"


class WithdrawalRefused(Exception):
    """A withdrawal asked for or decided with something wrong, for the member or staff to read; nothing changed."""


class IllegalWithdrawalMove(Exception):
    pass


def withdrawal_fee(amount: Decimal, *, method: str) -> Decimal:
    """The fee kept from a payout to Alipay (settings.WITHDRAWAL_FEE_PERCENT); into the wallet is free:
    the money stays in the shop."""
    if method == Withdrawal.Method.WALLET:
        return Decimal("0.00")
    return round_fen(amount * settings.WITHDRAWAL_FEE_PERCENT / 100)


def request_withdrawal(
    member: User, *, amount: Decimal, method: str, account: str = "", account_name: str = ""
) -> Withdrawal:
    """Hold `amount` of the member's available commissions for a withdrawal; into the wallet it is paid at once."""
    account, account_name = account.strip(), account_name.strip()
    _check_request(amount, method=method, account=account, account_name=account_name)
    referrer_for(member)
    with transaction.atomic():
        # Two requests of one member queue here, and the second reads the balance the first left.
        lock_referrer(member.pk)
        available = balances_of(member).available
        if available < amount:
            raise WithdrawalRefused(
                _("You have ¥%(available)s available to withdraw.") % {"available": max(available, 0)}
            )
        withdrawal = Withdrawal.objects.create(
            member=member,
            amount=cny(amount),
            fee=cny(withdrawal_fee(amount, method=method)),
            method=method,
            account=account if method == Withdrawal.Method.ALIPAY else "",
            account_name=account_name if method == Withdrawal.Method.ALIPAY else "",
        )
        post(
            member.pk,
            K.WITHDRAWAL_HELD,
            withdrawal.amount,
            reference=withdrawal.number,
            withdrawal=withdrawal,
            actor=member,
        )
        _event(withdrawal, E.REQUESTED, actor=member, amount=str(amount), method=method)
        if method == Withdrawal.Method.WALLET:
            _paid(withdrawal, event=E.PAID, actor=member)
            wallet_services.credit_wallet(
                member, withdrawal.payout, actor=member, kind=WalletEntry.Kind.COMMISSION, reference=withdrawal.number
            )
    logger.info("withdrawal %s of %s asked for by member %s", withdrawal.number, amount, member.pk)
    return withdrawal


def _check_request(amount: Decimal, *, method: str, account: str, account_name: str) -> None:
    if not isinstance(amount, Decimal) or not amount.is_finite() or amount != round_fen(amount):
        raise WithdrawalRefused(_("Enter an amount in yuan and fen."))
    if amount < settings.WITHDRAWAL_MIN:
        raise WithdrawalRefused(_("The least you can withdraw is ¥%(min)s.") % {"min": settings.WITHDRAWAL_MIN})
    if amount > Decimal("1000000"):
        raise WithdrawalRefused(_("Withdraw at most ¥1,000,000 at a time."))
    if method not in Withdrawal.Method.values:
        raise WithdrawalRefused(_("Choose where the money goes."))
    if method == Withdrawal.Method.ALIPAY:
        if not PHONE.fullmatch(account) and not _is_email(account):
            raise WithdrawalRefused(_("Enter the Alipay account: a mobile number or an e-mail address."))
        if not 2 <= len(account_name) <= 40:
            raise WithdrawalRefused(_("Enter the real name of the Alipay account's holder."))


def _is_email(text: str) -> bool:
    try:
        validate_email(text)
    except ValidationError:
        return False
    return len(text) <= 100


def decline_withdrawal(withdrawal: Withdrawal, *, actor: User, reason: str) -> Withdrawal:
    """Staff decline: the held amount returns to the member's available balance."""
    with transaction.atomic():
        locked = lock_withdrawal(withdrawal.pk)
        if locked.state != W.REQUESTED:
            raise WithdrawalRefused(_("Only a withdrawal waiting for approval can be declined."))
        _move(locked, W.DECLINED, decided_by=actor, finished_at=timezone.now(), message=reason[:300])
        _return(locked, actor=actor, note=reason)
        _event(locked, E.DECLINED, actor=actor, reason=reason)
    return locked


def mark_paid_by_hand(withdrawal: Withdrawal, *, actor: User, reference: str) -> Withdrawal:
    """Staff paid it themselves (a transfer in Alipay's own app, a bank): recorded with their reference."""
    reference = reference.strip()
    if not reference:
        raise WithdrawalRefused(_("Give the payout's reference (the transfer or receipt number)."))
    with transaction.atomic():
        locked = lock_withdrawal(withdrawal.pk)
        if locked.state != W.REQUESTED:
            raise WithdrawalRefused(_("Only a withdrawal waiting for approval can be marked paid."))
        locked.decided_by, locked.reference = actor, reference[:64]
        _paid(locked, event=E.PAID_BY_HAND, actor=actor, reference=reference)
    return locked


def approve_and_send(withdrawal: Withdrawal, *, actor: User) -> Withdrawal:
    """Staff approve a payout to Alipay: commit "sending", call the transfer, apply its answer."""
    gateway = get_payout_gateway()
    if gateway is None:
        raise WithdrawalRefused(_("No payout gateway is set up: pay it yourself and mark it paid."))
    with transaction.atomic():
        locked = lock_withdrawal(withdrawal.pk)
        if locked.method != Withdrawal.Method.ALIPAY:
            raise WithdrawalRefused(_("Only a withdrawal to Alipay is sent by transfer."))
        if locked.state != W.REQUESTED:
            # Sent once: what became of it is asked, never sent again (promise 9).
            raise WithdrawalRefused(_("This withdrawal is not waiting for approval."))
        _move(locked, W.SENDING, decided_by=actor, sent_at=timezone.now())
        _event(locked, E.SENDING, actor=actor, gateway=gateway.code)
    try:
        result = gateway.transfer(
            out_biz_no=locked.number,
            amount=locked.payout.amount,
            account=locked.account,
            name=locked.account_name,
            title=PAYOUT_TITLE,
        )
    except GatewayError as error:
        return _unknown(locked, error)
    return apply_transfer_result(locked, result)


def sync_sending_withdrawal(withdrawal: Withdrawal) -> Withdrawal:
    """Ask the gateway what became of a transfer whose answer was unknown or still processing."""
    gateway = get_payout_gateway()
    if gateway is None or withdrawal.state != W.SENDING:
        return withdrawal
    try:
        result = gateway.query(out_biz_no=withdrawal.number)
    except GatewayError as error:
        logger.warning("withdrawal %s: query failed: %s", withdrawal.number, error)
        return withdrawal
    return apply_transfer_result(withdrawal, result)


def apply_transfer_result(withdrawal: Withdrawal, result: PayoutResult) -> Withdrawal:
    """Record the gateway's answer about a sending withdrawal, once: paid, or failed and returned."""
    with transaction.atomic():
        locked = lock_withdrawal(withdrawal.pk)
        if locked.state != W.SENDING or result.state == PayoutState.PROCESSING:
            return locked
        if result.state == PayoutState.SUCCEEDED:
            locked.reference = result.gateway_order_id[:64]
            _paid(locked, event=E.PAID, gateway_order_id=result.gateway_order_id)
        else:
            _move(locked, W.FAILED, finished_at=timezone.now(), message=result.message[:300])
            _return(locked, note=result.message)
            _event(locked, E.FAILED, message=result.message)
    logger.info("withdrawal %s: transfer %s", locked.number, result.state)
    return locked


def _unknown(withdrawal: Withdrawal, error: Exception) -> Withdrawal:
    with transaction.atomic():
        _event(withdrawal, E.UNKNOWN, error=str(error)[:300])
    logger.warning("withdrawal %s: transfer answer unknown, to be queried: %s", withdrawal.number, error)
    return withdrawal


def _paid(withdrawal: Withdrawal, *, event: str, actor: User | None = None, **data) -> None:
    fields = {"finished_at": timezone.now(), "reference": withdrawal.reference, "decided_by": withdrawal.decided_by}
    _move(withdrawal, W.PAID, **fields)
    post(
        withdrawal.member_id,
        K.WITHDRAWAL_PAID,
        withdrawal.amount,
        reference=withdrawal.number,
        withdrawal=withdrawal,
        actor=actor,
    )
    _event(withdrawal, event, actor=actor, **data)


def _return(withdrawal: Withdrawal, *, actor: User | None = None, note: str = "") -> None:
    post(
        withdrawal.member_id,
        K.WITHDRAWAL_RETURNED,
        withdrawal.amount,
        reference=withdrawal.number,
        withdrawal=withdrawal,
        actor=actor,
        note=note,
    )


def _move(withdrawal: Withdrawal, to_state: str, **fields) -> None:
    require_transaction(Withdrawal)
    if to_state not in WITHDRAWAL_MOVES[withdrawal.state]:
        raise IllegalWithdrawalMove(f"withdrawal {withdrawal.number}: {withdrawal.state} → {to_state}")
    withdrawal.state = to_state
    for name, value in fields.items():
        setattr(withdrawal, name, value)
    withdrawal.save(update_fields=["state", *fields])


def _event(withdrawal: Withdrawal, type: str, *, actor: User | None = None, **data) -> WithdrawalEvent:
    return WithdrawalEvent.objects.create(withdrawal=withdrawal, type=type, actor=actor, data=data)
