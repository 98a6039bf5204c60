"""The shop settings staff edit in admin, as every page, e-mail and service reads them.

`current()` answers from a copy kept under a version in the shared cache: each read costs one cache
round trip for the version (pages read it for their cache keys anyway) and no query, and a change
saved by any process bumps the version, so the next page everywhere shows it. While the shared
cache is unreachable the row is read from the database each time: a copy in this process would
not see a change made by another one. A bump that could not reach Redis is made again once it is back.

`update_shop_settings` is the one write: the row saved with an audit row of what changed.
"""

import time
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models.fields.files import FieldFile
from django.utils.translation import get_language, gettext

from kamen import audit, locking
from kamen.cache import LocalCopies, shared_cache_available
from kamen.models import ShopSettings, StaffAction

VERSION_KEY = "kamen:shop-settings:version"
# The key holds the version its copy was read at, so a copy is never stale; this only bounds memory.
COPY_SECONDS = 300
_copies = LocalCopies(size=8, seconds=COPY_SECONDS)
_bump_owed = False

# What staff edit, in the order of the settings page; the audit row compares these.
EDITABLE = (
    "name",
    "logo",
    "contact_qq",
    "contact_wechat",
    "contact_telegram",
    "contact_email",
    "service_hours",
    "faq",
    "faq_en",
    "terms",
    "terms_en",
    "privacy",
    "privacy_en",
    "reservation_minutes",
    "guest_checkout",
    "sign_up_open",
    "daily_check_in",
    "points_mall",
)


@dataclass(frozen=True)
class FaqEntry:
    question: str
    answer: str


@dataclass(frozen=True)
class CurrentSettings:
    """The settings row as read at one version: plain values, safe to keep in a cache."""

    version: int = 0  # the version it was read at: what keys the layout's fragments
    name: str = ""
    logo_url: str = ""
    contact_qq: str = ""
    contact_wechat: str = ""
    contact_telegram: str = ""
    contact_email: str = ""
    service_hours: str = ""
    faq: str = ""
    faq_en: str = ""
    terms: str = ""
    terms_en: str = ""
    privacy: str = ""
    privacy_en: str = ""
    reservation_minutes: int | None = None
    guest_checkout: bool = True
    sign_up_open: bool = True
    daily_check_in: bool = True
    points_mall: bool = True

    @property
    def shop_name(self) -> str:
        # The built-in name is translated (kamen 卡盟, kamen card shop); one staff chose reads the same in each.
        return self.name or gettext("kamen card shop")

    @property
    def has_contact(self) -> bool:
        return any((self.contact_qq, self.contact_wechat, self.contact_telegram, self.contact_email))

    @property
    def order_reservation_minutes(self) -> int:
        return self.reservation_minutes or settings.ORDER_RESERVATION_MINUTES

    def text(self, name: str) -> str:
        """The text `name` (faq, terms, privacy) in the page's language; English falls back to Chinese."""
        english = getattr(self, f"{name}_en") if (get_language() or "").startswith("en") else ""
        return english or getattr(self, name)

    def faq_entries(self) -> list[FaqEntry]:
        """The FAQ as questions and answers: blocks between blank lines, the first line of each the question."""
        text = self.text("faq").replace("\r\n", "\n")
        blocks = [block.strip() for block in text.split("\n\n")]
        entries = []
        for block in filter(None, blocks):
            question, _newline, answer = block.partition("\n")
            entries.append(FaqEntry(question=question.strip(), answer=answer.strip()))
        return entries


def current() -> CurrentSettings:
    """The shop settings now in force."""
    if not shared_cache_available():
        return _read()
    read_at = version()
    key = f"kamen:shop-settings:{read_at}"
    values = _copies.get(key)
    if values is None:
        values = replace(_read(), version=read_at)
        _copies.set(key, values, COPY_SECONDS)
    return values


def version() -> int:
    """The settings version: every cached page holds it in its key, so a change shows everywhere at once."""
    if _bump_owed and shared_cache_available():
        _bump()
    return cache.get_or_set(VERSION_KEY, _fresh, None)


def reservation_minutes() -> int:
    """How long an unpaid order holds its codes: staff's setting, or the server's ORDER_RESERVATION_MINUTES."""
    return current().order_reservation_minutes


def settings_for_edit() -> ShopSettings:
    """The one settings row, made with its defaults the first time staff open it."""
    return ShopSettings.objects.get_or_create(pk=ShopSettings.SINGLETON_ID)[0]


def update_shop_settings(shop: ShopSettings, *, actor, ip: str | None = None) -> StaffAction | None:
    """Save staff's edit of the settings row (`shop`, changed in memory) with one audit row holding
    only the fields that changed, before and after; None when nothing changed."""
    with transaction.atomic():
        stored = locking.lock_one(ShopSettings.objects, pk=shop.pk)  # two staff saving at once queue
        before, after = audit.changed(_snapshot(stored), _snapshot(shop))
        if not after:
            return None
        shop.save(update_fields=[*after, "updated_at"])
        after = {**after, **({"logo": _snapshot(shop)["logo"]} if "logo" in after else {})}  # its stored name
        action = audit.record(audit.Kind.SETTINGS_CHANGE, actor=actor, target=shop, before=before, after=after, ip=ip)
        settings_changed()
    return action


def fill_blanks(values: Mapping[str, Any]) -> ShopSettings:
    """Set the fields of `values` that are still blank, leaving what staff wrote: for demo data."""
    shop = settings_for_edit()
    blank = {name: value for name, value in values.items() if getattr(shop, name) in ("", None)}
    if blank:
        for name, value in blank.items():
            setattr(shop, name, value)
        shop.save(update_fields=[*blank, "updated_at"])
        settings_changed()
    return shop


def settings_changed() -> None:
    """Bump the version now and again on commit, so no page reads the old row into the new version."""
    _bump()
    transaction.on_commit(_bump, robust=True)


def _bump() -> None:
    global _bump_owed
    cache.set(VERSION_KEY, _fresh(), None)
    _bump_owed = not shared_cache_available()


def _fresh() -> int:
    # Never a value an earlier version held, even after the key was evicted.
    return time.time_ns()


def _read() -> CurrentSettings:
    row = ShopSettings.objects.filter(pk=ShopSettings.SINGLETON_ID).first()
    if row is None:
        return CurrentSettings()
    names = [field.name for field in fields(CurrentSettings) if field.name not in ("logo_url", "version")]
    return CurrentSettings(logo_url=row.logo.url if row.logo else "", **{name: getattr(row, name) for name in names})


def _snapshot(shop: ShopSettings) -> dict[str, Any]:
    return {name: _plain(getattr(shop, name)) for name in EDITABLE}


def _plain(value: Any) -> Any:
    return value.name or "" if isinstance(value, FieldFile) else value
