"""Who is looking at a cached page, known without reading their session and user rows.

A signed-in member's copy of a cached page needs only who they are, their level, whether they are
staff and their address. Reading those the full way — the session row, then the user row, then the
session's password hash checked — is two statements and twice a visitor's cost for the whole page.
So the first request of a session that asks reads them the full way and leaves a *viewer card* in the
shared cache under the session's key; the session's next requests for cached pages read the card.

A card never outlives what it was read from: the session store deletes it with its session (a
sign-out, a sign-in that changes the key, a session deleted by staff), and every save of the user's row
(a new level, address, password, staff or active flag) gives the user a new version, which a card of
the old one fails. A card also lapses after CARD_SECONDS. Only page caching reads cards; everything
else, views and checkout included, signs the request in the full way.
"""

import hashlib
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore as DatabaseSessionStore
from django.core.cache import cache
from django.db import transaction
from django.db.models.signals import post_delete, post_save

from .cache import shared_cache_available

CARD_SECONDS = 300


@dataclass(frozen=True)
class Viewer:
    user_id: int | None = None  # None: not signed in
    level_id: int | None = None
    is_staff: bool = False
    email: str = ""
    user_version: str = ""

    @property
    def is_authenticated(self) -> bool:
        return self.user_id is not None


VISITOR = Viewer()
# Other per-member entries of the shared cache that a cached page shows (an unread count), read in the
# same round trip as the card's version.
_read_with_card: list[Callable[[int], str]] = []


def read_with_card(key_of: Callable[[int], str]) -> None:
    """Have the cache entry `key_of(user_id)` read along with each card; `fetched` gives it."""
    _read_with_card.append(key_of)


def fetched(request, key: str):
    """The value of `key` read along with this request's card; None when it was not."""
    return getattr(request, "_viewer_fetched", {}).get(key)


def of(request) -> Viewer:
    """Who is looking, from the request's user if it has been read, else from the session's card."""
    viewer = getattr(request, "_viewer", None)
    if viewer is None:
        viewer = request._viewer = _look_up(request)
    return viewer


def _look_up(request) -> Viewer:
    if hasattr(request, "_cached_user"):  # read already: nothing is saved by asking the card
        return _from_user(request.user, "")
    session_key = request.COOKIES.get(settings.SESSION_COOKIE_NAME)
    if not session_key:
        return VISITOR
    if not shared_cache_available():  # a card in one process's memory would not hear of changes made in another
        return _from_user(request.user, "")
    key = _card_key(session_key)
    user_id = _member_of_card.get(key)
    if user_id is None:
        card = cache.get(key)
        if card is not None and not card.is_authenticated:
            return card
        user_id = card.user_id if card is not None else None
    if user_id is not None:
        # The card, its member's version and what pages show of them, in one round trip.
        keys = [key, _version_key(user_id), *(key_of(user_id) for key_of in _read_with_card)]
        values = cache.get_many(keys)
        card = values.get(key)
        if card is not None and card.user_id == user_id and values.get(keys[1]) == card.user_version:
            _remember(key, user_id)
            request._viewer_fetched = values
            return card
    # The full way. The user's version is read before their row: a save in between leaves a card
    # that fails the version it comes with, never a stale row under the new one.
    user_id = request.session.get(SESSION_KEY)
    version = _user_version(user_id) if user_id else ""
    card = _from_user(request.user, version)
    if request.session.session_key == session_key:  # an unknown or expired key is not carded
        cache.set(key, card, min(CARD_SECONDS, request.session.get_expiry_age()))
    return card


# Which member each card seen by this process is for: a session's key never changes hands (signing in
# gives the session a new one), so this only saves the round trip that would read it, never decides.
_member_of_card: dict[str, int] = {}
_MEMBERS_KEPT = 10_000


def _remember(key: str, user_id: int) -> None:
    if len(_member_of_card) >= _MEMBERS_KEPT:
        _member_of_card.clear()
    _member_of_card[key] = user_id


def _from_user(user, version: str) -> Viewer:
    if not user.is_authenticated:
        return VISITOR
    return Viewer(user.pk, user.level_id, user.is_staff, user.email, version)


def _card_key(session_key: str) -> str:
    return "viewer:" + hashlib.sha256(session_key.encode()).hexdigest()[:32]


def _version_key(user_id) -> str:
    return f"viewer:user:{user_id}"


def _user_version(user_id) -> str:
    key = _version_key(user_id)
    cache.add(key, uuid.uuid4().hex, None)
    return cache.get(key) or ""


def user_changed(sender, instance, **kwargs) -> None:
    """Any save or delete of a user's row voids their cards: now, and again once it commits, so a card
    read from the row before the change and written in between is voided too."""
    key = _version_key(instance.pk)
    cache.delete(key)
    transaction.on_commit(lambda: cache.delete(key))


def connect_signals() -> None:
    post_save.connect(user_changed, sender=settings.AUTH_USER_MODEL, dispatch_uid="viewer-card-user-saved")
    post_delete.connect(user_changed, sender=settings.AUTH_USER_MODEL, dispatch_uid="viewer-card-user-deleted")


class SessionStore(DatabaseSessionStore):
    """Database sessions whose viewer card goes with them."""

    def delete(self, session_key=None):
        key = session_key or self.session_key
        if key:
            cache.delete(_card_key(key))
        super().delete(session_key)
