"""Payments and refunds change state only by the moves their tables allow, inside a transaction."""

import pytest
from django.db import transaction

from kamen.locking import LockOutsideTransaction
from kamen.testing import factories
from payments.models import PAYMENT_MOVES, REFUND_MOVES, Payment, Refund
from payments.providers.base import RefundOutcome, RefundResult, TradeState, TradeStatus
from payments.services import IllegalMove, move_payment, move_refund


def test_every_state_has_a_row_in_its_table_and_every_row_names_real_states():
    for states, moves in ((Payment.State, PAYMENT_MOVES), (Refund.State, REFUND_MOVES)):
        assert set(moves) == set(states.values)
        assert all(targets <= set(states.values) for targets in moves.values())


@pytest.mark.parametrize("from_state", Payment.State.values)
def test_a_payment_refuses_every_move_outside_its_table(sku, from_state):
    payment = factories.place_order(sku, quantity=1).payment
    Payment.objects.filter(pk=payment.pk).update(state=from_state)
    payment.refresh_from_db()

    for to_state in set(Payment.State.values) - PAYMENT_MOVES[from_state]:
        with pytest.raises(IllegalMove), transaction.atomic():
            move_payment(payment, to_state)

    assert Payment.objects.get(pk=payment.pk).state == from_state


@pytest.mark.parametrize("from_state", Refund.State.values)
def test_a_refund_refuses_every_move_outside_its_table(paid_order, sku, from_state):
    order = paid_order(sku, 1)
    refund = Refund.objects.create(payment=order.payment_links.get().payment, amount=order.total, state=from_state)

    for to_state in set(Refund.State.values) - REFUND_MOVES[from_state]:
        with pytest.raises(IllegalMove), transaction.atomic():
            move_refund(refund, to_state)

    assert Refund.objects.get(pk=refund.pk).state == from_state


def test_a_confirmed_payment_never_moves_again():
    assert PAYMENT_MOVES[Payment.State.CONFIRMED] == set()
    assert REFUND_MOVES[Refund.State.SUCCEEDED] == REFUND_MOVES[Refund.State.DECLINED] == set()


@pytest.mark.django_db(transaction=True)
def test_a_move_outside_a_transaction_raises(sku):
    payment = factories.place_order(sku, quantity=1).payment

    with pytest.raises(LockOutsideTransaction):
        move_payment(payment, Payment.State.CANCELLED)

    assert Payment.objects.get(pk=payment.pk).state == Payment.State.PENDING


def test_gateway_outcomes_are_enumerations_and_an_unknown_one_is_a_bug():
    assert TradeStatus("paid").state is TradeState.PAID
    assert RefundResult("processing").state is RefundOutcome.PROCESSING
    with pytest.raises(ValueError):
        TradeStatus("paid-ish")
    with pytest.raises(ValueError):
        RefundResult("ok")
