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
from django.core.cache import cache
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.html import escape
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from kamen import shop_settings, viewers
from kamen.tasks import enqueue

from . import sending
from .models import Announcement, Message, User

K = Message.Kind
# A cached unread count is dropped whenever it changes; the lifetime only bounds forgotten keys.
UNREAD_SECONDS = 3600
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
    # To the staff member who submitted a product for review.
    K.MODERATION: (
        _("“%(product)s” was not approved"),
        _("Reason: %(reason)s\nEdit the product and submit it for review again."),
    ),
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
    if created and user is not None:
        _unread_changed(user.pk)
    if created and wanted:
        transaction.on_commit(lambda: enqueue_message_email(message.pk))
    return message


def enqueue_message_email(message_id: int) -> None:
    from .tasks import send_message_email_task

    enqueue(send_message_email_task, message_id)


def claim_email(message_id: int) -> Message | None:
    """Take the right to e-mail a message; None if it is sent, unwanted, or being sent by another task."""
    unsent = Message.objects.filter(pk=message_id, email_wanted=True, emailed_at__isnull=True)
    if not sending.claim(unsent, claimed_field="email_claimed_at"):
        return None
    return Message.objects.get(pk=message_id)


def mail_subject(title: str) -> str:
    """The subject of a mail the shop sends people, in the shop's language: 【shop name】<title>."""
    with translation.override(settings.LANGUAGE_CODE):
        return gettext("[%(shop)s] %(title)s") % {"shop": shop_settings.current().shop_name, "title": title}


def send_email(message: Message) -> None:
    subject = mail_subject(message.title)
    link = f"\n\n{settings.SITE_URL}{message.link}" if message.link else ""
    send_mail(subject, message.body + link, None, [message.email])


def record_email(message_id: int, *, sent: bool) -> None:
    """After a claimed send: it went out, or it failed and the claim is given back for another try."""
    if sent:
        Message.objects.filter(pk=message_id).update(emailed_at=timezone.now())
    else:
        Message.objects.filter(pk=message_id).update(email_claimed_at=None)


def sweep_unsent_emails(*, limit: int = 500) -> list[int]:
    """Enqueue the e-mail of messages still owed one a while after they were written."""
    owed = sending.owed(Message.objects.filter(email_wanted=True, emailed_at__isnull=True), limit=limit)
    for message_id in owed:
        enqueue_message_email(message_id)
    return owed


# ------------------------------------------------------------------------------ the message centre


def unread_count(user: User) -> int:
    """How many of the member's messages are unread; kept in the shared cache until one comes or is read."""
    return _unread_count_of(user.pk)


def _unread_count_of(user_id: int) -> int:
    key = unread_key(user_id)
    count = cache.get(key)
    if count is None:
        count = Message.objects.filter(user_id=user_id, read_at__isnull=True).count()
        cache.set(key, count, UNREAD_SECONDS)
    return count


def unread_key(user_id: int) -> str:
    return f"inbox:unread:{user_id}"


def _unread_changed(user_id: int) -> None:
    # Now, for what this transaction reads next, and after commit, so that a reader in between never
    # leaves the count from before the change cached.
    cache.delete(unread_key(user_id))
    transaction.on_commit(lambda: cache.delete(unread_key(user_id)))


def unread_slot(request) -> str:
    """The unread badge of a signed-in member, for their copy of a page cached for their level."""
    user_id = viewers.of(request).user_id
    count = viewers.fetched(request, unread_key(user_id))
    if count is None:
        count = _unread_count_of(user_id)
    if not count:
        return ""  # what the badge template renders for none, without rendering it
    return render_to_string("accounts/_unread_badge.html", {"unread_messages": count})


def email_slot(request) -> str:
    """The member's address in the header of a page cached for their level."""
    return escape(viewers.of(request).email)


def current_announcements(*, now=None) -> list[Announcement]:
    now = now or timezone.now()
    shown = Announcement.objects.filter(is_active=True, published_at__lte=now)
    return list(shown.exclude(until__lte=now)[:3])


def mark_read(user: User, *, message_id: int | None = None) -> int:
    """Mark one of the member's messages read, or all of them; others' messages are never touched."""
    unread = Message.objects.filter(user=user, read_at__isnull=True)
    if message_id is not None:
        unread = unread.filter(pk=message_id)
    marked = unread.update(read_at=timezone.now())
    if marked:
        _unread_changed(user.pk)
    return marked
