"""Messages (消息): an on-site message (站内信) to a member, or an e-mail to a guest, for every event
they should know of.

`notify` runs in the transaction of the event itself (a payment confirmed, a level reached), so the
message commits or rolls back with it, and writes it once per event and recipient (`key`): a
confirmation retried or a task run twice finds it there. Its e-mail is sent by a task enqueued on
commit, which claims the send first (a second run finds it claimed or sent), and a beat sweeper
re-enqueues what a lost task left behind. Members choose whether levels, coupons and points are
e-mailed; messages about money and goods always are.
"""

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Q
from django.utils import timezone, translation
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from kamen.tasks import enqueue

from .models import Announcement, Message, User

K = Message.Kind
# What each kind says, rendered once in the shop's language with the event's details.
TEXTS = {
    K.PAID: (_("Order %(number)s is paid"), _("We received %(amount)s for %(product)s; delivery is under way.")),
    K.MANUAL: (
        _("Order %(number)s is paid"),
        _("We received %(amount)s for %(product)s; our staff deliver it by hand and we tell you when it is done."),
    ),
    K.DELIVERED: (_("Order %(number)s is delivered"), _("%(product)s is ready: open the order to see it.")),
    K.DELIVERY_FAILED: (
        _("Order %(number)s needs our staff"),
        _("%(product)s could not be delivered at once; our staff are on it and will finish or refund it."),
    ),
    K.REFUND: (_("Refund for order %(number)s"), _("%(decision)s")),
    K.LEVEL: (_("Welcome to %(level)s"), _("You are now %(level)s: %(perks)s")),
    K.COUPON: (_("A coupon for you: %(coupon)s"), _("%(coupon)s is in your account; choose it at checkout.")),
    K.POINTS: (_("You earned %(points)s points"), _("%(reason)s Your points: %(balance)s.")),
}


def notify(user: User | None, *, email: str, kind: str, key: str, link: str = "", **details) -> Message | None:
    """Write the message about one event for one recipient, once; e-mail it after commit if wanted.

    A guest (no `user`) has no message centre: only what is e-mailed is written for them.
    """
    wanted = kind not in Message.ON_SITE_ONLY and (
        user is None or kind not in Message.OPTIONAL_EMAIL or user.email_rewards
    )
    if user is None and not wanted:
        return None
    title, body = TEXTS[kind]
    with translation.override(settings.LANGUAGE_CODE):
        defaults = {"title": str(title) % details, "body": str(body) % details}
    message, created = Message.objects.get_or_create(
        key=key[:100],
        email=email,
        defaults={"user": user, "kind": kind, "link": link, "email_wanted": wanted, **defaults},
    )
    if created and wanted:
        transaction.on_commit(lambda: enqueue_message_email(message.pk))
    return message


def enqueue_message_email(message_id: int) -> None:
    from .tasks import send_message_email_task

    enqueue(send_message_email_task, message_id)


def claim_email(message_id: int, *, now=None) -> Message | None:
    """Take the right to e-mail a message; None if it is sent, unwanted, or being sent by another task.

    A claim older than MAIL_CLAIM_STALE_AFTER belongs to a worker that died mid-send and may be taken.
    """
    now = now or timezone.now()
    stale = now - settings.MAIL_CLAIM_STALE_AFTER
    # One UPDATE whose own conditions PostgreSQL checks again on the row it waited for: of two tasks
    # claiming at once, the second finds the claim taken and updates nothing.
    claimable = Message.objects.filter(pk=message_id, email_wanted=True, emailed_at__isnull=True).filter(
        Q(email_claimed_at__isnull=True) | Q(email_claimed_at__lt=stale)
    )
    if not claimable.update(email_claimed_at=now):
        return None
    return Message.objects.get(pk=message_id)


def send_email(message: Message) -> None:
    with translation.override(settings.LANGUAGE_CODE):
        subject = gettext("[kamen card shop] %(title)s") % {"title": message.title}
    link = f"\n\n{settings.SITE_URL}{message.link}" if message.link else ""
    send_mail(subject, message.body + link, None, [message.email])


def record_email(message_id: int, *, sent: bool) -> None:
    """After a claimed send: it went out, or it failed and the claim is given back for another try."""
    if sent:
        Message.objects.filter(pk=message_id).update(emailed_at=timezone.now())
    else:
        Message.objects.filter(pk=message_id).update(email_claimed_at=None)


def sweep_unsent_emails(*, now=None, limit: int = 500) -> list[int]:
    """Enqueue the e-mail of messages still owed one a while after they were written."""
    now = now or timezone.now()
    owed = list(
        Message.objects.filter(
            email_wanted=True,
            emailed_at__isnull=True,
            created_at__lte=now - settings.MAIL_SWEEP_AFTER,
            created_at__gte=now - settings.MAIL_SWEEP_WITHIN,
        )
        .order_by("pk")
        .values_list("pk", flat=True)[:limit]
    )
    for message_id in owed:
        enqueue_message_email(message_id)
    return owed


# ------------------------------------------------------------------------------ the message centre


def unread_count(user: User) -> int:
    return Message.objects.filter(user=user, read_at__isnull=True).count()


def current_announcements(*, now=None) -> list[Announcement]:
    now = now or timezone.now()
    shown = Announcement.objects.filter(is_active=True, published_at__lte=now)
    return list(shown.exclude(until__lte=now)[:3])


def mark_read(user: User, *, message_id: int | None = None) -> int:
    """Mark one of the member's messages read, or all of them; others' messages are never touched."""
    unread = Message.objects.filter(user=user, read_at__isnull=True)
    if message_id is not None:
        unread = unread.filter(pk=message_id)
    return unread.update(read_at=timezone.now())
