"""Whole pages, cached with what differs per visitor punched out.

Most catalog traffic sees the same page, and the header, navigation, grid and footer cost more to
render than the rows behind them. A page is stored with its CSRF token replaced by a placeholder; each
visitor gets a token of their own put back (and the CSRF cookie set) as it is served. Pages a view
offers to signed-in members too (`members=True`) are shared by the members of one level — what they
pay — and are stored with their personal parts (the member's address, their unread messages: regions
a template marks `<!--personal:NAME-->…<!--/personal:NAME-->`) punched out; each member gets their
own put back by the functions settings.PAGE_CACHE_PERSONAL names.

A page is cached only for a GET or HEAD by a visitor with no messages waiting, whose query names are
all ones the view reads, while the shared cache is reachable, and only if the view answered 200. The
key holds the language, the full address (the page links back to itself to switch language and to
sign in), who the page is for (a visitor, or a member's level and whether they are staff) and the
version of the shop settings every page shows; the caller adds what the content depends on (a
catalog generation, a stock version).
"""

import hashlib
import re
import time
from collections.abc import Callable, Iterable
from functools import cache as memoize

from django.conf import settings
from django.contrib.messages import get_messages
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import get_token
from django.utils.cache import patch_vary_headers
from django.utils.module_loading import import_string
from django.utils.translation import get_language

from . import shop_settings, viewers
from .cache import LocalCopies, shared_cache_available

# Keys carry what a page depends on (a generation, a stock version), so a changed page is never read
# again; the lifetime only bounds the memory that pages nobody asks for take.
PAGE_SECONDS = 300
# One request renders a missing page while others wait for it, up to RENDER_WAIT_SECONDS; a claim
# left by a request that died lapses after RENDER_CLAIM_SECONDS.
RENDER_WAIT_SECONDS = 0.5
RENDER_CLAIM_SECONDS = 5
# Pages this process served lately, kept beside Redis: their keys hold what they depend on.
_pages = LocalCopies(size=500, seconds=PAGE_SECONDS)
CSRF_PLACEHOLDER = "kamen-csrf-placeholder"
# What {% csrf_token %} renders; a token is letters and digits, so the placeholder can stand in its place.
CSRF_FIELD = re.compile(r'(<input type="hidden" name="csrfmiddlewaretoken" value=")[A-Za-z0-9]+(">)')


# A personal region of a page, as a template marks it, and the placeholder it is stored as.
PERSONAL = re.compile(r"<!--personal:(\w+)-->.*?<!--/personal:\1-->", re.S)
PERSONAL_SLOT = re.compile(r"<!--personal:(\w+)/-->")


def cacheable(
    request: HttpRequest, query_names: Iterable[str] = (), *, methods=("GET", "HEAD"), members: bool = False
) -> bool:
    return (
        request.method in methods
        and set(request.GET) <= set(query_names)
        and shared_cache_available()
        and (members or not viewers.of(request).is_authenticated)
        and not len(get_messages(request))
    )


def viewer(request: HttpRequest) -> str:
    """Who a page is for, as far as it differs: a visitor, or a member of a level (staff see more)."""
    viewer = viewers.of(request)
    if not viewer.is_authenticated:
        return "visitor"
    return f"member-{viewer.level_id or 0}{'-staff' if viewer.is_staff else ''}"


def page_key(request: HttpRequest, parts: Iterable[object]) -> str:
    address = hashlib.sha256(request.get_full_path().encode()).hexdigest()[:24]
    # Every page shows the shop settings (its name, the footer's contact, feature switches' links).
    settings_version = shop_settings.version()
    return ":".join(["page", get_language() or "", viewer(request), str(settings_version), *map(str, parts), address])


@memoize
def personal_fillers() -> dict[str, Callable[[HttpRequest], str]]:
    return {name: import_string(path) for name, path in settings.PAGE_CACHE_PERSONAL.items()}


def _personalised(html: str, request: HttpRequest) -> str:
    fillers = personal_fillers()
    return PERSONAL_SLOT.sub(lambda slot: fillers[slot[1]](request) if slot[1] in fillers else "", html)


def serve(
    request: HttpRequest,
    parts: Iterable[object],
    render: Callable[[], HttpResponse],
    *,
    query_names: Iterable[str] = (),
    fill: Callable[[str], str] | None = None,
    status: int = 200,
    members: bool = False,
) -> HttpResponse:
    """The page `render` makes, from the cache when it may be; `fill` completes it as it is served
    (cached or not), e.g. with live stock counts.

    With a `status` other than 200 the page is a refusal that is the same for everyone (a sold-out
    answer to a checkout): it may answer a POST, and is cached when `render` answered that status.
    With `members` signed-in members get it from the cache too, the copy of their level.
    """
    methods = ("GET", "HEAD") if status == 200 else ("POST",)
    if not cacheable(request, query_names, methods=methods, members=members):
        return _filled(render(), fill, status)
    key = page_key(request, parts)
    stored = _pages.get(key)
    if stored is None:
        claim = f"{key}:rendering"
        if not cache.add(claim, 1, RENDER_CLAIM_SECONDS):
            stored = _rendered_meanwhile(key)
        if stored is None:
            try:
                response = render()
            finally:
                cache.delete(claim)  # also when the page is a 404 or an error: nobody waits for it then
            if response.status_code != status or response.cookies:  # a cookie: an answer for one visitor
                return _filled(response, fill, status)
            html = CSRF_FIELD.sub(rf"\g<1>{CSRF_PLACEHOLDER}\g<2>", response.content.decode())
            html = PERSONAL.sub(r"<!--personal:\1/-->", html)
            stored = (html, response["Content-Type"])
            _pages.set(key, stored, PAGE_SECONDS)
    html, content_type = stored
    html = html.replace(CSRF_PLACEHOLDER, get_token(request))
    member = viewers.of(request).is_authenticated
    if member:
        html = _personalised(html, request)
    response = HttpResponse(fill(html) if fill else html, content_type=content_type, status=status)
    if member:  # read from the viewer card, not the session, which is what would have said so
        patch_vary_headers(response, ("Cookie",))
    return response


def _rendered_meanwhile(key: str) -> tuple[str, str] | None:
    """The page another request is rendering right now, once it is stored; None if it takes too long.

    When a sale changes a product's stock, the next hundred visitors all miss its page at once; one
    renders it and the others wait a moment for that page instead of rendering it a hundred times.
    It is as current as theirs would be: the key holds the stock version it was rendered for.
    """
    deadline = time.monotonic() + RENDER_WAIT_SECONDS
    while time.monotonic() < deadline:
        time.sleep(0.01)
        stored = _pages.get(key)
        if stored is not None:
            return stored
    return None


def _filled(response: HttpResponse, fill: Callable[[str], str] | None, status: int) -> HttpResponse:
    if fill is not None and response.status_code == status and not response.streaming:
        response.content = fill(response.content.decode())
    return response
