"""Messages (消息): one on-site message per event and recipient, e-mailed by a task once however often
it runs, as the member chose for the optional ones; the message centre, its unread badge and the
shop's announcements."""

from decimal import Decimal

import pytest
from celery.exceptions import Retry
from django.urls import reverse

from accounts import inbox
from accounts.models import Announcement, MemberLevel, Message
from accounts.tasks import send_message_email_task, sweep_unsent_message_emails_task
from kamen.testing import factories
from orders import services as order_services
from orders.services import coupons as coupon_services


def kinds(user) -> list[str]:
    return list(Message.objects.filter(user=user).order_by("id").values_list("kind", flat=True))


def test_a_members_order_tells_them_it_was_paid_delivered_and_what_it_earned(sku, shopper, paid_order, mailoutbox):
    order = paid_order(sku, quantity=2, user=shopper)

    assert kinds(shopper) == ["paid", "delivered", "points"]
    paid = Message.objects.get(kind="paid")
    assert paid.title == f"订单 {order.number} 已付款" and "¥20.00" in paid.body
    assert paid.link == order.get_absolute_url()
    assert Message.objects.get(kind="points").title == "获得 20 积分"
    # E-mails: the delivery e-mail of the order and the points; payment and delivery are on-site only.
    subjects = sorted(m.subject for m in mailoutbox)
    assert subjects == sorted([f"【kamen 卡盟】订单 {order.number} 已发货", "【kamen 卡盟】获得 20 积分"])
    assert set(Message.objects.filter(email_wanted=False).values_list("kind", flat=True)) == {"paid", "delivered"}


def test_a_guest_is_told_by_e_mail_only(db, paid_order, mailoutbox):
    manual = factories.SkuFactory(delivery_kind="manual")
    order = paid_order(manual, quantity=1)

    assert list(Message.objects.values_list("kind", "user", "email")) == [("manual", None, order.contact_email)]
    assert Message.objects.get().link == order.get_secret_url()
    assert [m.to for m in mailoutbox] == [[order.contact_email]] and "人工发货" in mailoutbox[0].body


def test_an_event_told_twice_is_one_message_and_a_task_run_twice_sends_one_e_mail(
    shopper, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        first = inbox.notify(shopper, email=shopper.email, kind="coupon", key="coupon-grant:1", coupon="满20减5")
        again = inbox.notify(shopper, email=shopper.email, kind="coupon", key="coupon-grant:1", coupon="满20减5")

    assert first.pk == again.pk and Message.objects.count() == 1
    assert send_message_email_task.delay(first.pk).get() is False  # sent already on commit
    assert sweep_unsent_message_emails_task.delay().get() == 0
    assert len(mailoutbox) == 1 and mailoutbox[0].to == [shopper.email]


def test_a_failed_send_is_given_back_and_sent_once_later(shopper, mailoutbox, monkeypatch):
    message = inbox.notify(shopper, email=shopper.email, kind="coupon", key="k", coupon="券")

    def broken(*args, **kwargs):
        raise ConnectionRefusedError("smtp down")

    monkeypatch.setattr(inbox, "send_mail", broken)
    with pytest.raises(Retry):  # the outage policy retries it later
        send_message_email_task.apply(args=[message.pk], throw=True)
    monkeypatch.undo()
    assert Message.objects.get(pk=message.pk).email_claimed_at is None

    assert send_message_email_task.delay(message.pk).get() is True
    assert send_message_email_task.delay(message.pk).get() is False
    assert len(mailoutbox) == 1 and Message.objects.get(pk=message.pk).emailed_at is not None


def test_a_member_who_wants_no_reward_mail_still_gets_the_message(
    shopper, mailoutbox, django_capture_on_commit_callbacks
):
    shopper.email_rewards = False
    shopper.save()

    with django_capture_on_commit_callbacks(execute=True):
        coupon_services.grant_coupon(factories.CouponFactory(name="满20减5"), shopper, reason="staff", reference="r")

    assert Message.objects.get(user=shopper).title == "送你一张优惠券：满20减5"
    assert mailoutbox == []


def test_an_upgrade_and_a_refund_decision_are_told(sku, shopper, paid_order, staff, django_capture_on_commit_callbacks):
    MemberLevel.objects.create(name="普通", rank=0)
    MemberLevel.objects.create(name="白银", rank=10, discount=Decimal("0.95"), upgrade_at=Decimal("20"))
    order = paid_order(sku, quantity=2, user=shopper)
    with django_capture_on_commit_callbacks(execute=True):
        order_services.create_refund(order, amount=Decimal("5.00"), destination="wallet", actor=staff)

    assert Message.objects.get(kind="level").title == "欢迎成为白银"
    assert "95折" in Message.objects.get(kind="level").body
    assert Message.objects.get(kind="refund").body == "¥5.00 已退回你的钱包。"


def test_the_message_centre_shows_the_badge_marks_read_and_keeps_others_out(client, shopper):
    for n in range(3):
        inbox.notify(shopper, email=shopper.email, kind="coupon", key=f"k{n}", coupon=f"券{n}")
    other = factories.UserFactory()
    theirs = inbox.notify(other, email=other.email, kind="coupon", key="k0", coupon="别人的券")
    Announcement.objects.create(title="春节期间正常发货")
    client.force_login(shopper)

    page = client.get(reverse("accounts:messages")).content.decode()
    assert 'class="badge-count"' in page and ">3</span>" in page
    assert "春节期间正常发货" in page and "别人的券" not in page

    first = Message.objects.filter(user=shopper).order_by("id").first()
    client.post(reverse("accounts:mark_read"), {"message": first.pk})
    client.post(reverse("accounts:mark_read"), {"message": theirs.pk})  # not theirs to mark
    assert inbox.unread_count(shopper) == 2 and inbox.unread_count(other) == 1
    client.post(reverse("accounts:mark_read"))
    assert inbox.unread_count(shopper) == 0


def test_a_message_leads_to_its_own_link_never_to_one_the_request_brings(client, shopper):
    message = inbox.notify(shopper, email=shopper.email, kind="coupon", key="k", link="/points/", coupon="券")
    client.force_login(shopper)

    response = client.post(reverse("accounts:mark_read"), {"message": message.pk, "next": "https://evil.example/"})

    assert response["Location"] == "/points/"


def test_an_announcement_shows_on_the_home_page_until_it_ends(client, db):
    Announcement.objects.create(title="系统升级通知")

    assert "系统升级通知" in client.get(reverse("catalog:home")).content.decode()
    Announcement.objects.update(is_active=False)
    Announcement.objects.first().save()  # saving it refreshes the cached pages
    assert "系统升级通知" not in client.get(reverse("catalog:home")).content.decode()
