"""Walk every URL pattern of the site with input no page should choke on.

Patterns come from the URLconf itself, so a page added later is walked without being listed here.
Each path parameter is filled with a real value (from the objects a test made) or with a bad one;
query parameters and form fields are the ones the site's own pages use, found by reading the forms
and links on every page, and are sent bad one at a time. Values travel percent-encoded exactly as a
client would send them, so bytes that are not UTF-8 can be sent too.
"""

import re
from collections import defaultdict
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import quote, urlencode, urlsplit

from django.apps import apps
from django.contrib.sessions.models import Session
from django.db import connection
from django.urls import URLPattern, URLResolver, get_resolver, resolve
from django.urls.exceptions import Resolver404


@dataclass(frozen=True)
class BadValue:
    """One bad input: `kind` names its class; `raw` is percent-encoded as it goes on the wire."""

    kind: str
    raw: str

    @property
    def always_refused(self) -> bool:
        """NUL bytes and broken UTF-8 are refused wherever they appear; the rest only where they do not fit."""
        return self.kind in ("nul", "invalid-utf8")


BAD_VALUES = [
    BadValue("nul", "%00"),
    BadValue("unicode-digits", quote("²")),
    BadValue("unicode-digits", quote("①②")),
    BadValue("unicode-digits", quote("١٢")),  # Arabic-Indic digits: int() accepts them, the database never sees them
    BadValue("over-long", "x" * 3000),
    BadValue("over-long", quote("a" * 250 + "@example.com")),  # a valid address, longer than any e-mail column
    BadValue("invalid-utf8", "%FF"),
    BadValue("invalid-utf8", "ab%C3%28"),
    BadValue("huge-number", "9" * 40),
    BadValue("huge-number", "1e999999"),
]

# Header values as a client can send them (latin-1 text on the wire).
BAD_HEADER_VALUES = ["\x00", "x" * 3000, "\xff\xfe", "999999999999999999999999999", "²"]
HEADERS = ("HTTP_USER_AGENT", "HTTP_ACCEPT_LANGUAGE", "HTTP_X_FORWARDED_FOR", "HTTP_REFERER")
COOKIES = ("sessionid", "csrftoken", "django_language")

# What a visitor types into an empty field of each input type, so the rest of a form is valid.
PLAUSIBLE = {"email": "walk@example.com", "password": "walk-pass-1234", "number": "1", "text": "walk"}

PARAMETER = re.compile(r"<(?:(?P<converter>\w+):)?(?P<name>\w+)>|\(\?P<(?P<group>\w+)>(?:[^()]|\([^()]*\))*\)")


@dataclass
class Route:
    """One URL pattern of the site, with where its parameters go."""

    route: str
    name: str

    @property
    def parameters(self) -> list[str]:
        return [m["name"] or m["group"] for m in PARAMETER.finditer(self.route)]

    def url(self, values: dict[str, str]) -> str:
        """The path with each parameter replaced by its (already encoded) value."""

        def fill(match: re.Match) -> str:
            return values[match["name"] or match["group"]]

        path = PARAMETER.sub(fill, self.route).replace("^", "").replace("$", "")
        path = re.sub(r"\\(.)", r"\1", path)
        return "/" + path


def routes() -> list[Route]:
    """Every URL pattern of the site, nested includes flattened."""

    def walk(patterns, prefix: str, namespace: str):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                inner = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
                yield from walk(pattern.url_patterns, prefix + str(pattern.pattern).lstrip("^"), inner)
            elif isinstance(pattern, URLPattern):
                yield Route(prefix + str(pattern.pattern).lstrip("^"), f"{namespace}{pattern.name or ''}")

    return list(walk(get_resolver().url_patterns, "", ""))


def route_of(path: str) -> str | None:
    """The route string a path resolves to, or None."""
    try:
        return resolve(urlsplit(path).path).route
    except Resolver404:
        return None


@dataclass
class Form:
    action: str
    method: str
    fields: list[tuple[str, str]] = field(default_factory=list)


class _PageReader(HTMLParser):
    """The forms on a page (with the values they would submit) and the query parameters of its links."""

    def __init__(self, page_path: str):
        super().__init__(convert_charrefs=True)
        self.page_path = page_path
        self.forms: list[Form] = []
        self.link_params: dict[str, set[str]] = defaultdict(set)
        self._form: Form | None = None
        self._select: str | None = None
        self._textarea: str | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "a" and a.get("href"):
            self._link(a["href"])
        elif tag == "form":
            self._form = Form(action=a.get("action") or self.page_path, method=(a.get("method") or "get").lower())
            self.forms.append(self._form)
        elif self._form is not None and a.get("name"):
            self._field(tag, a)

    def _link(self, href: str):
        parts = urlsplit(href)
        if parts.netloc or not parts.query:
            return
        path = parts.path or self.page_path
        for pair in parts.query.split("&"):
            self.link_params[path].add(pair.split("=")[0])

    def _field(self, tag: str, a: dict):
        name = a["name"]
        if tag == "input":
            kind = a.get("type", "text")
            if kind in ("checkbox", "radio") and "checked" not in a:
                return
            if kind not in ("submit", "button", "image", "file"):
                self._form.fields.append((name, a.get("value") or PLAUSIBLE.get(kind, "")))
        elif tag == "select":
            self._select = name
            self._form.fields.append((name, ""))
        elif tag == "option" and self._select and "selected" in a:
            self._form.fields = [(n, a.get("value", "")) if n == self._select else (n, v) for n, v in self._form.fields]
        elif tag == "textarea":
            self._textarea = name
            self._form.fields.append((name, ""))
        elif tag == "button" and a.get("type", "submit") == "submit" and a.get("value"):
            pass  # a second submit button is a choice, not a field

    def handle_data(self, data):
        if self._textarea and self._form is not None:
            self._form.fields = [(n, v + data) if n == self._textarea else (n, v) for n, v in self._form.fields]

    def handle_endtag(self, tag):
        if tag == "form":
            self._form = None
        elif tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None


def read_page(path: str, html: str) -> _PageReader:
    reader = _PageReader(path)
    reader.feed(html)
    return reader


def encode_form(fields: list[tuple[str, str]], *, bad_field: str, bad: BadValue) -> str:
    """A urlencoded body: the form's own values, with `bad_field` replaced by the raw bad value."""
    parts = []
    for name, value in fields:
        encoded = bad.raw if name == bad_field else quote(value, safe="")
        parts.append(f"{quote(name, safe='')}={encoded}")
    return "&".join(parts)


def bad_query(names, bad: BadValue) -> str:
    return "&".join(f"{quote(name, safe='')}={bad.raw}" for name in names)


def good_query(params: dict[str, str]) -> str:
    return urlencode(params)


def write_counter() -> dict[str, int]:
    """Rows inserted, updated or deleted so far in this transaction, per table, sessions left out.

    Cheap enough to ask after every request (PostgreSQL's pg_stat_xact_user_tables); only the tables
    whose count moved are read again and compared.
    """
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relname, n_tup_ins + n_tup_upd + n_tup_del FROM pg_stat_xact_user_tables WHERE relname <> %s",
            [Session._meta.db_table],
        )
        return {table: int(count) for table, count in cursor.fetchall() if count}


def moved_tables(before: dict[str, int], after: dict[str, int]) -> set[str]:
    return {table for table in after if after[table] != before.get(table)}


def database_state(tables: set[str] | None = None) -> dict[str, list[tuple]]:
    """Every row of every table (or of `tables`, by name) except sessions (signing in and out writes
    those), login times left out."""
    state = {}
    for model in apps.get_models():
        if model is Session or model._meta.proxy:
            continue
        if tables is not None and model._meta.db_table not in tables:
            continue
        columns = [f.attname for f in model._meta.concrete_fields if f.attname != "last_login"]
        state[model._meta.label] = list(model._base_manager.order_by("pk").values_list(*columns))
    return state


class Writes:
    """The database as it was at the last look, read again only where the write counters moved."""

    def __init__(self):
        self.state = database_state()
        self.counter = write_counter()

    def look(self) -> tuple[dict, dict]:
        """(before, after): every row at the last look and now; the same dict when nothing was written."""
        counter = write_counter()
        moved = moved_tables(self.counter, counter)
        before = self.state
        if moved:
            self.state = {**before, **database_state(moved)}
        self.counter = counter
        return before, self.state


def changed_tables(before: dict, after: dict) -> list[str]:
    return [label for label in before if before[label] != after[label]]


# A refused gateway notification is recorded on purpose: the one write a refusal makes.
REFUSAL_RECORDS = ("payments.PaymentNotification",)


def refusal_records(before: dict, after: dict) -> list[str]:
    """What is wrong with the notification records written meanwhile: each must be a rejection
    holding no more than a bounded prefix of its body."""
    from payments.models import PaymentNotification
    from payments.notification_limits import REJECTED_BODY_PREFIX_CHARS

    known = {row[0] for row in before["payments.PaymentNotification"]}
    new = [row[0] for row in after["payments.PaymentNotification"] if row[0] not in known]
    return [
        f"notification record {record.pk} is {record.result} with a body of {len(record.body)} characters"
        for record in PaymentNotification.objects.filter(pk__in=new)
        if record.result != PaymentNotification.Result.REJECTED or len(record.body) > REJECTED_BODY_PREFIX_CHARS
    ]
