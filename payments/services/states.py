"""The one way a payment or a refund changes state: an allowed move, inside a transaction."""

from kamen.locking import require_transaction

from ..models import PAYMENT_MOVES, REFUND_MOVES, Payment, Refund


class IllegalMove(Exception):
    """A payment or refund was asked to make a move its table does not allow; nothing changed."""


def move_payment(payment: Payment, to_state: str, **fields) -> Payment:
    """Move a locked payment to `to_state`, setting `fields` beside it, or raise IllegalMove."""
    _move(payment, PAYMENT_MOVES, to_state, fields)
    return payment


def move_refund(refund: Refund, to_state: str, **fields) -> Refund:
    """Move a locked refund to `to_state`, setting `fields` beside it, or raise IllegalMove."""
    _move(refund, REFUND_MOVES, to_state, fields)
    return refund


def _move(row: Payment | Refund, moves: dict[str, set[str]], to_state: str, fields: dict) -> None:
    require_transaction(type(row))
    if to_state not in moves.get(row.state, set()):
        raise IllegalMove(f"{row._meta.model_name} {row}: {row.state} → {to_state} is not allowed")
    row.state = to_state
    for name, value in fields.items():
        setattr(row, name, value)
    row.save(update_fields=["state", *fields])
