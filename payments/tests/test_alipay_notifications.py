"""Alipay notifications: only genuine, acceptable TRADE_SUCCESS notifications confirm a payment.

Keys, signing and the fake gateway are in kamen/testing/fake_alipay.py; notifications are signed with
`cryptography`, not the SDK, so our verification is checked independently.
"""

import base64
from datetime import datetime, timedelta
from decimal import Decimal
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from django.test import RequestFactory
from django.utils import timezone
from djmoney.money import Money

from catalog.models import CardCode
from kamen.testing import factories
from kamen.testing.factories import order_of
from kamen.testing.fake_alipay import (
    NOTIFY_URL,
    alipay_sign,
    key_pair,
)
from kamen.testing.notifications import assert_rejected_and_unchanged
from orders.models import Order
from payments.models import Payment, PaymentNotification, Refund
from payments.providers import get_provider
from payments.providers.alipay import notification_sign_content
from payments.providers.base import VerifiedNotification, VerifiedRefundNotification

pytestmark = pytest.mark.usefixtures("alipay_enabled")


@pytest.fixture
def payment(sku):
    return factories.place_order(sku, "alipay").payment


def rejection_message() -> str:
    return PaymentNotification.objects.latest("id").message


# Notifications


def test_a_genuine_notification_confirms_and_delivers(payment, alipay_notification, post_alipay_notification):
    response = post_alipay_notification(alipay_notification(payment))

    assert response.status_code == 200
    assert response.content == b"success"
    assert response["Content-Type"].startswith("text/plain")
    assert order_of(payment).status == Order.Status.DELIVERED
    record = PaymentNotification.objects.get()
    assert record.verified and record.result == PaymentNotification.Result.CONFIRMED
    assert record.payment_id == payment.pk
    payment.refresh_from_db()
    assert payment.gateway_trade_no == f"2026010122001{payment.pk:08d}"


def test_a_resent_notification_changes_nothing_twice(payment, alipay_notification, post_alipay_notification):
    params = alipay_notification(payment)
    post_alipay_notification(params)

    response = post_alipay_notification(params)

    assert response.content == b"success"
    assert list(PaymentNotification.objects.order_by("id").values_list("result", flat=True)) == [
        "confirmed",
        "duplicate",
    ]
    assert CardCode.objects.filter(status=CardCode.Status.SOLD).count() == 2


def test_a_tampered_amount_is_rejected(payment, alipay_notification, post_alipay_notification):
    params = alipay_notification(payment)
    params["total_amount"] = "0.01"

    response = post_alipay_notification(params)

    assert response.status_code == 400
    assert response.content == b"fail"
    assert_rejected_and_unchanged(payment)
    assert rejection_message() == "bad signature"


def test_a_correctly_signed_wrong_amount_is_rejected(payment, alipay_notification, post_alipay_notification):
    post_alipay_notification(alipay_notification(payment, total_amount="19.99"))

    assert_rejected_and_unchanged(payment)
    assert "amount" in rejection_message()


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"app_id": "2021000000000999"}, "app_id"),
        ({"seller_id": "2088000000000999"}, "seller_id"),
        ({"trade_status": "WAIT_BUYER_PAY"}, "not a payment"),
        ({"trade_status": "TRADE_CLOSED"}, "trade closed unpaid"),
        ({"refund_fee": "5.00", "seller_id": "2088000000000999"}, "seller_id"),
        ({"total_amount": "20"}, "malformed amount"),
        ({"total_amount": " 20.00"}, "malformed amount"),
    ],
)
def test_validly_signed_but_unacceptable_notifications_change_nothing(
    payment, alipay_notification, post_alipay_notification, overrides, reason
):
    post_alipay_notification(alipay_notification(payment, **overrides))

    assert_rejected_and_unchanged(payment)
    assert reason in rejection_message()


def beijing(delta: timedelta) -> str:
    return f"{datetime.now(ZoneInfo('Asia/Shanghai')) + delta:%Y-%m-%d %H:%M:%S}"


@pytest.mark.parametrize(
    ("notify_time", "reason"),
    [
        (beijing(-timedelta(hours=27)), "stale notification"),
        (beijing(timedelta(hours=2)), "notify_time in the future"),  # still ahead however long the suite runs
        ("2026-13-01 12:00:00", "malformed notify_time"),
        ("", "missing parameters: notify_time"),
    ],
    ids=["stale", "future", "malformed", "missing"],  # fixed ids: every test process collects the same tests
)
def test_stale_future_or_missing_notify_times_are_rejected(
    payment, alipay_notification, post_alipay_notification, notify_time, reason
):
    post_alipay_notification(alipay_notification(payment, notify_time=notify_time))

    assert_rejected_and_unchanged(payment)
    assert rejection_message() == reason


def test_a_notification_resent_within_alipays_window_is_still_honoured(
    payment, alipay_notification, post_alipay_notification
):
    # Alipay re-sends an unanswered notification for about 25 hours (4m, 10m, 10m, 1h, 2h, 6h, 15h).
    response = post_alipay_notification(alipay_notification(payment, notify_time=beijing(-timedelta(hours=24))))

    assert response.content == b"success"
    payment.refresh_from_db()
    assert payment.state == Payment.State.CONFIRMED


REFUND_NOTIFICATIONS = [
    pytest.param({"refund_fee": "5.00", "gmt_refund": "2026-01-02 10:00:00.000"}, id="partial"),
    pytest.param({"refund_fee": "5.00"}, id="refund-fee-only"),
    pytest.param({"gmt_refund": "2026-01-02 10:00:00.000"}, id="gmt-refund-only"),
    pytest.param({"refund_fee": "20.00", "trade_status": "TRADE_CLOSED"}, id="full"),
    pytest.param({"refund_fee": "", "trade_status": "TRADE_SUCCESS"}, id="blank-refund-fee"),
]


def parse(params: dict[str, str]):
    request = RequestFactory().post(
        NOTIFY_URL, data=urlencode(params), content_type="application/x-www-form-urlencoded"
    )
    return get_provider("alipay").parse_notification(request)


def test_a_verified_notification_names_the_payer(payment, alipay_notification):
    verified = parse(alipay_notification(payment))

    assert verified == VerifiedNotification(
        trade_no=payment.trade_no,
        amount=Decimal("20.00"),
        gateway_trade_no=f"2026010122001{payment.pk:08d}",
        payer="2088102177846880",
    )


@pytest.mark.parametrize(
    ("overrides", "payer"),
    [
        pytest.param(
            {"buyer_id": "", "buyer_open_id": "074a1CcTG1LelxKe4xQC0zgNdId0nxi95b5lsNpazWYoCo5"},
            "074a1CcTG1LelxKe4xQC0zgNdId0nxi95b5lsNpazWYoCo5",
            id="open-id-only",
        ),
        pytest.param(
            {"buyer_open_id": "074a1CcTG1LelxKe4xQC0zgNdId0nxi95b5lsNpazWYoCo5"}, "2088102177846880", id="both"
        ),
        pytest.param({"buyer_id": ""}, "", id="neither"),
    ],
)
def test_the_payer_falls_back_to_the_open_id(payment, alipay_notification, overrides, payer):
    assert parse(alipay_notification(payment, **overrides)).payer == payer


@pytest.mark.parametrize("overrides", REFUND_NOTIFICATIONS)
def test_a_refund_notification_is_verified_as_a_refund(payment, alipay_notification, overrides):
    verified = parse(alipay_notification(payment, out_biz_no="R2026010200000000000000001", **overrides))

    assert verified == VerifiedRefundNotification(
        trade_no=payment.trade_no,
        refund_no="R2026010200000000000000001",
        succeeded=True,
        gateway_refund_id=f"2026010122001{payment.pk:08d}",
        message=f"refund_fee {overrides.get('refund_fee', '')}",
    )


@pytest.mark.parametrize("overrides", REFUND_NOTIFICATIONS)
def test_a_refund_notification_never_confirms_a_payment(
    payment, alipay_notification, post_alipay_notification, overrides
):
    response = post_alipay_notification(alipay_notification(payment, **overrides))

    assert response.content == b"success"
    record = PaymentNotification.objects.get()
    assert record.verified and record.result == PaymentNotification.Result.REFUND
    assert record.payment_id == payment.pk
    payment.refresh_from_db()
    assert payment.state == Payment.State.PENDING
    assert payment.gateway_trade_no == ""
    assert order_of(payment).status == Order.Status.PENDING_PAYMENT
    assert not CardCode.objects.filter(status=CardCode.Status.SOLD).exists()


def test_a_refund_notification_with_a_bad_signature_is_rejected(payment, alipay_notification, post_alipay_notification):
    params = alipay_notification(payment, refund_fee="20.00", trade_status="TRADE_CLOSED")
    params["refund_fee"] = "0.01"

    post_alipay_notification(params)

    assert_rejected_and_unchanged(payment)
    assert rejection_message() == "bad signature"


def test_a_refund_after_payment_changes_nothing_it_does_not_name(
    payment, alipay_notification, post_alipay_notification
):
    post_alipay_notification(alipay_notification(payment))

    post_alipay_notification(alipay_notification(payment, refund_fee="20.00", trade_status="TRADE_CLOSED"))

    record = PaymentNotification.objects.latest("id")
    assert record.verified and record.result == PaymentNotification.Result.REFUND
    assert Payment.objects.get(pk=payment.pk).state == Payment.State.CONFIRMED
    assert CardCode.objects.filter(status=CardCode.Status.SOLD).count() == 2


def test_a_refund_notification_settles_our_processing_refund(payment, alipay_notification, post_alipay_notification):
    post_alipay_notification(alipay_notification(payment))
    refund = Refund.objects.create(
        payment=payment,
        amount=Money("5.00", "CNY"),
        state=Refund.State.PROCESSING,
        decided_at=timezone.now(),
    )

    post_alipay_notification(
        alipay_notification(
            payment, refund_fee="5.00", gmt_refund="2026-01-02 10:00:00.000", out_biz_no=refund.refund_no
        )
    )

    refund.refresh_from_db()
    assert refund.state == Refund.State.SUCCEEDED
    assert refund.gateway_refund_id == f"2026010122001{payment.pk:08d}"
    assert Payment.objects.get(pk=payment.pk).state == Payment.State.CONFIRMED
    assert PaymentNotification.objects.latest("id").result == PaymentNotification.Result.REFUND


def test_a_notification_replayed_onto_another_order_is_rejected(
    sku, payment, alipay_notification, post_alipay_notification
):
    other = factories.place_order(sku, "alipay", email="b@example.com").payment
    params = alipay_notification(payment)
    params["out_trade_no"] = other.trade_no  # same amount, other order: the signature no longer matches

    post_alipay_notification(params)

    assert_rejected_and_unchanged(other)
    assert rejection_message() == "bad signature"
    assert Payment.objects.get(pk=payment.pk).state == Payment.State.PENDING


def test_a_genuine_notification_for_one_order_pays_only_that_order(
    sku, payment, alipay_notification, post_alipay_notification
):
    other = factories.place_order(sku, "alipay", email="b@example.com").payment

    post_alipay_notification(alipay_notification(payment))  # the shopper of `other` hoped this would pay theirs

    assert Payment.objects.get(pk=payment.pk).state == Payment.State.CONFIRMED
    other.refresh_from_db()
    assert other.state == Payment.State.PENDING
    assert order_of(other).status == Order.Status.PENDING_PAYMENT


def test_duplicate_parameters_are_rejected(payment, alipay_notification, post_alipay_notification):
    post_alipay_notification(urlencode(alipay_notification(payment)) + "&total_amount=0.01")

    assert_rejected_and_unchanged(payment)


def test_an_array_amount_is_rejected(payment, alipay_notification, post_alipay_notification):
    params = alipay_notification(payment)
    body = urlencode({k: v for k, v in params.items() if k != "total_amount"}) + "&total_amount[]=20.00"

    post_alipay_notification(body)

    assert_rejected_and_unchanged(payment)


@pytest.mark.parametrize("sign", [None, ""])
def test_missing_or_empty_signature_is_rejected(payment, alipay_notification, post_alipay_notification, sign):
    params = alipay_notification(payment)
    del params["sign"]
    if sign is not None:
        params["sign"] = sign

    post_alipay_notification(params)

    assert_rejected_and_unchanged(payment)
    assert rejection_message() == "missing signature"


def test_sign_type_rsa_is_rejected(payment, alipay_notification, post_alipay_notification):
    post_alipay_notification({**alipay_notification(payment), "sign_type": "RSA"})

    assert_rejected_and_unchanged(payment)
    assert "RSA2" in rejection_message()


def test_a_signature_made_with_another_key_is_rejected(payment, alipay_notification, post_alipay_notification):
    _, other_private, _ = key_pair()
    params = alipay_sign({k: v for k, v in alipay_notification(payment).items() if k != "sign"}, other_private)

    post_alipay_notification(params)

    assert_rejected_and_unchanged(payment)
    assert rejection_message() == "bad signature"


def test_a_signature_over_sha1_by_alipays_own_key_is_rejected(
    payment, alipay_notification, post_alipay_notification, alipay_platform_keys
):
    params = {k: v for k, v in alipay_notification(payment).items() if k != "sign"}
    digest = alipay_platform_keys[0].sign(notification_sign_content(params).encode(), padding.PKCS1v15(), hashes.SHA1())

    post_alipay_notification({**params, "sign": base64.b64encode(digest).decode()})

    assert_rejected_and_unchanged(payment)
    assert rejection_message() == "bad signature"


def test_garbage_in_the_signature_is_rejected(payment, alipay_notification, post_alipay_notification):
    post_alipay_notification({**alipay_notification(payment), "sign": "not base64 at all!"})

    assert_rejected_and_unchanged(payment)
    assert rejection_message() == "bad signature"


@pytest.mark.parametrize("name", ["ALIPAY_PUBLIC_KEY", "ALIPAY_APP_ID", "ALIPAY_SELLER_ID"])
def test_an_empty_configured_key_or_id_never_verifies(
    payment, alipay_notification, post_alipay_notification, settings, name
):
    params = alipay_notification(payment)
    setattr(settings, name, "")

    post_alipay_notification(params)

    assert_rejected_and_unchanged(payment)
    assert "not configured" in rejection_message()


def test_the_sign_content_drops_sign_fields_and_empty_values():
    params = {"b": "2", "a": "1", "empty": "", "sign": "x", "sign_type": "RSA2"}

    assert notification_sign_content(params) == "a=1&b=2"
