"""Bad input never turns into a 500, and a refusal writes nothing: every URL pattern, three visitors.

The walk takes its patterns from the URLconf (kamen.testing.urlwalk), fills path parameters with real
values or bad ones, and sends the query parameters and form fields the site's own pages use, one bad
value at a time, plus bad headers and cookies. On PostgreSQL a NUL in a string parameter is a
database error; SQLite accepts it, so the walk is marked for PostgreSQL.
"""

import traceback
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from urllib.parse import quote, quote_from_bytes

import hypothesis
import pytest
from allauth.account.models import EmailAddress
from django.contrib.auth.models import Group
from django.contrib.contenttypes.models import ContentType
from django.test import Client
from django.utils import timezone
from hypothesis import strategies as st

from accounts.services import credit_wallet
from catalog import crypto
from catalog import services as catalog_services
from catalog.models import CardCode, Supplier
from distribution import services as distribution_services
from kamen.money import cny
from kamen.testing import factories, urlwalk
from kamen.testing.urlwalk import BAD_HEADER_VALUES, BAD_VALUES, COOKIES, HEADERS, BadValue, Route
from orders import services as order_services
from orders.models import Order
from orders.services.coupons import grant_coupon
from payments import services as payment_services
from payments.models import PaymentNotification

ROLES = ("guest", "shopper", "staff")
NOTIFYING_PROVIDERS = ("sandbox", "alipay", "wechat", "balance")
GATEWAY_HEADERS = tuple(
    f"HTTP_WECHATPAY_{name}" for name in ("SIGNATURE", "TIMESTAMP", "NONCE", "SERIAL", "SIGNATURE_TYPE")
)
NOTIFICATION_FIELDS = {"trade_no": "P1", "total_amount": "1.00", "trade_status": "SUCCESS", "sign": "0" * 64}
COMMON_QUERY = ("q", "page", "next", "p", "o")
# BAD_VALUES by class: the classes kamen.middleware refuses wherever they appear, and those each page judges.
CLASSES = [[bad for bad in BAD_VALUES if bad.kind == kind] for kind in dict.fromkeys(bad.kind for bad in BAD_VALUES)]
REFUSED = [variants for variants in CLASSES if variants[0].always_refused]
JUDGED = [variants for variants in CLASSES if not variants[0].always_refused]


@dataclass
class World:
    """The objects a shop has on an ordinary day; path parameters are filled from them."""

    values: dict[str, dict[str, str]] = field(default_factory=dict)  # role -> parameter -> value
    users: dict[str, object] = field(default_factory=dict)
    admin_objects: dict[str, str] = field(default_factory=dict)  # "app/model" -> pk


@pytest.fixture
def uninstrumented_templates(monkeypatch):
    """Templates rendered as the shop renders them. Under test, Django copies the context of every
    template and include for the test client to show; the walk reads only status codes and HTML, and
    an admin page is hundreds of includes."""
    from django.template import Template

    monkeypatch.setattr(Template, "_render", lambda template, context: template.nodelist.render(context))


@pytest.fixture
def world(db, settings, pay, shopper, staff, alipay_enabled, wechat_enabled, uninstrumented_templates) -> World:
    settings.ORDER_LOOKUP_RATE = "100000/m"
    settings.ACCOUNT_RATE_LIMITS = False
    settings.ALLAUTH_TRUSTED_PROXY_COUNT = 1

    def paid(placed) -> Order:
        pay(placed.payment)
        return Order.objects.get(pk=placed.order.pk)

    sku = factories.SkuFactory(price="10.00")
    factories.stock(sku, 20)
    manual = factories.SkuFactory(delivery_kind="manual", product=sku.product)

    guest_delivered = paid(factories.place_order(sku, quantity=1))
    order_services.request_refund(guest_delivered, user=None, reason="不能用")
    guest_pending = factories.place_order(sku, quantity=1).payment
    paid(factories.place_order(manual, quantity=1))  # waits in the staff queue

    credit_wallet(shopper, cny("50.00"), actor=staff, note="walk")
    # The shopper was invited by staff: the promotion centre and its admin have a tree, commissions,
    # a settled balance and a withdrawal waiting for approval to walk through.
    settings.WITHDRAWAL_MIN = Decimal("0.50")
    distribution_services.bind_inviter(shopper, distribution_services.referrer_for(staff).code)
    shopper_delivered = paid(factories.place_order(sku, quantity=1, user=shopper))
    distribution_services.settle_due_commissions(now=timezone.now() + timedelta(days=8))
    distribution_services.request_withdrawal(
        staff, amount=Decimal("1.00"), method="alipay", account="13800138000", account_name="张三"
    )
    shopper_pending = factories.place_order(sku, quantity=1, user=shopper).payment
    coupon = factories.CouponFactory(code="WALK5", min_spend=0, uses_per_member=None)
    grant_coupon(coupon, shopper, reason="staff", reference="walk")
    factories.place_order(sku, quantity=1, user=shopper, coupon="WALK5")
    topup = payment_services.start_topup(shopper, amount=cny("20.00").amount, provider="sandbox")

    code = CardCode.objects.filter(order=shopper_delivered).first()
    catalog_services.reveal_code(code, user=staff, ip="127.0.0.1")
    PaymentNotification.objects.create(provider="sandbox", body="trade_no=P1", result="rejected", message="walk")
    Group.objects.create(name="客服")
    EmailAddress.objects.create(user=shopper, email=shopper.email, primary=True, verified=True)

    supplier = Supplier(name="上游", adapter="kamen", base_url="https://up.example", account="ak_walk")
    supplier.secret_encrypted = crypto.encrypt("walk-secret")
    supplier.save()
    product = sku.product
    common = {
        "pk": str(product.pk),
        "slug": product.category.slug,
        "provider_code": "sandbox",
        "app_label": "catalog",
        "id": str(shopper.pk),
        "user_id": str(shopper.pk),
        "order_id": str(shopper_delivered.pk),
        "coupon_id": str(coupon.pk),
        "content_type_id": str(ContentType.objects.get_for_model(product).pk),
        "url": "nowhere/",
        "key": "walk-key",
        "uidb36": "1",
        "path": "nothing.txt",
        "code": distribution_services.referrer_for(shopper).code,
        "member_id": str(shopper.pk),
        "product_id": str(product.pk),
        "action": "send",
        "supplier_id": str(supplier.pk),
    }
    world = World(users={"guest": None, "shopper": shopper, "staff": staff})
    world.values["guest"] = {
        **common,
        "number": guest_delivered.number,
        "token": guest_delivered.access_token,
        "trade_no": guest_pending.trade_no,
    }
    world.values["shopper"] = {
        **common,
        "number": shopper_delivered.number,
        "token": shopper_delivered.access_token,
        "trade_no": shopper_pending.trade_no,
    }
    world.values["staff"] = {**world.values["shopper"], "trade_no": topup.trade_no}
    return world


def _object_id(route: Route) -> str | None:
    """For admin/<app>/<model>/<object_id>/...: the pk of one object of that model."""
    from django.apps import apps

    parts = route.route.split("/")
    if len(parts) < 4 or parts[0] != "admin":
        return None
    try:
        model = apps.get_model(parts[1], parts[2])
    except (LookupError, ValueError):
        return None
    first = model._base_manager.order_by("pk").first()
    return str(first.pk) if first else None


@dataclass
class Walk:
    """One visitor walking the site; failures are collected, not raised, so one run shows them all."""

    role: str
    world: World
    client: Client = field(default_factory=lambda: Client(raise_request_exception=True))
    failures: list[str] = field(default_factory=list)
    requests: int = 0

    def __post_init__(self):
        self.sign_in()
        self.writes = urlwalk.Writes()

    def sign_in(self):
        user = self.world.users[self.role]
        if user is not None:
            self.client.force_login(user)
        if self.role == "guest":  # the guest opens their order through its secret link
            values = self.world.values["guest"]
            self.client.get(f"/orders/{values['number']}/{values['token']}/")
            self.client.get(f"/payments/pay/{values['trade_no']}/")

    def send(self, method: str, url: str, *, body: str = "", strict: bool, allowed=(), **headers):
        """Send one request; a 5xx, an exception, or a write where none is allowed is a failure."""
        self.requests += 1
        try:
            if method == "GET":
                response = self.client.get(url, **headers)
            else:
                response = self.client.post(url, data=body, content_type="application/x-www-form-urlencoded", **headers)
        except Exception:
            last_lines = "".join(traceback.format_exc().splitlines(keepends=True)[-6:])
            self.failures.append(f"{self.role} {method} {url[:200]} body={body[:200]!r}\n{last_lines}")
            self.sign_in()
            self._check_writes(f"{method} {url[:200]}", strict=True, status=500, allowed=allowed)
            return None
        status = response.status_code
        if status >= 500:
            self.failures.append(f"{self.role} {method} {url[:200]} body={body[:200]!r} -> {status}")
        self._check_writes(f"{method} {url[:200]} body={body[:200]!r}", strict=strict, status=status, allowed=allowed)
        session = response.cookies.get("sessionid")
        if self.role != "guest" and session is not None and not session.value:
            self.sign_in()  # it was a sign-out page
        return response

    def _check_writes(self, what: str, *, strict: bool, status: int, allowed) -> None:
        before, after = self.writes.look()
        if before is after:
            return
        changed = [table for table in urlwalk.changed_tables(before, after) if table not in allowed]
        if allowed:
            problems = urlwalk.refusal_records(before, after)
            self.failures += [f"{self.role} {what}: {problem}" for problem in problems]
        if changed and (strict or status >= 400):
            self.failures.append(f"{self.role} {what} -> {status} wrote {changed}")

    def good_values(self, route: Route) -> dict[str, str] | None:
        values = {name: quote(value, safe="") for name, value in self.world.values[self.role].items()}
        object_id = _object_id(route)
        if "object_id" in route.parameters:
            if object_id is None and not route.route.startswith("admin/r/"):
                return None
            values["object_id"] = object_id or self.world.values[self.role]["pk"]
        return values


def _discover(walk: Walk, all_routes: list[Route]):
    """GET every route with good values; collect the forms and link parameters its page shows."""
    forms: dict[str, list[urlwalk.Form]] = {}
    query_names: dict[str, set[str]] = {}
    gated: set[str] = set()
    for route in all_routes:
        values = walk.good_values(route)
        if values is None:
            continue
        url = route.url(values)
        page = walk.send("GET", url, strict=False)
        if page is not None and page.status_code == 302 and "login/" in page["Location"]:
            gated.add(route.route)
        if page is None or page.status_code != 200 or "html" not in page.get("Content-Type", ""):
            continue
        reader = urlwalk.read_page(url, page.content.decode())
        for form in reader.forms:
            target = urlwalk.route_of(form.action)
            if target is None:
                continue
            if form.method == "post":
                forms.setdefault(target, []).append(form)
            else:
                query_names.setdefault(target, set()).update(name for name, _ in form.fields)
        for path, names in reader.link_params.items():
            target = urlwalk.route_of(path)
            if target is not None:
                query_names.setdefault(target, set()).update(names)
    return forms, query_names, gated


# The walk in parts, so a parallel test run (pytest-xdist) shares them out: the shop's own pages, and
# the admin's apps in groups. A part reads its own pages first to find their forms and links: the
# shop's forms post to the shop, an admin page's forms to its own admin app.
PARTS = {
    "shop": lambda route: not route.route.startswith("admin/"),
    "admin-orders-payments": lambda route: route.route.startswith(("admin/orders/", "admin/payments/")),
    "admin-catalog-products": lambda route: route.route.startswith(
        ("admin/catalog/category/", "admin/catalog/product/")
    ),
    "admin-catalog-codes": lambda route: (
        route.route.startswith("admin/catalog/")
        and not route.route.startswith(("admin/catalog/category/", "admin/catalog/product/"))
    ),
    "admin-accounts-and-the-rest": lambda route: (
        route.route.startswith("admin/")
        and not route.route.startswith(("admin/orders/", "admin/payments/", "admin/catalog/"))
    ),
}
# Guests and shoppers walk the shop; staff, whose shop pages are a shopper's, walk the admin.
WALKS = [("guest", "shop"), ("shopper", "shop"), *(("staff", part) for part in PARTS if part != "shop")]


def _walk(role: str, world: World, part: str = "shop") -> Walk:
    walk = Walk(role, world)
    routes = list(filter(PARTS[part], urlwalk.routes()))
    forms, query_names, gated = _discover(walk, routes)
    for route in routes:
        values = walk.good_values(route)
        if values is None:
            continue
        if route.route in gated:  # every request ends at the sign-in page: bad path segments are enough
            _walk_path(walk, route, values, methods=("GET",))
            continue
        target = urlwalk.route_of(route.url(values))
        _walk_path(walk, route, values)
        _walk_query(walk, route, values, query_names.get(target, set()))
        if route.name == "payments:notify":
            _walk_notify(walk, route, values)
        _walk_forms(walk, forms.get(target, []), route.url(values))
        _walk_headers(walk, route.url(values))
    return walk


def _walk_path(walk: Walk, route: Route, values: dict[str, str], methods=("GET", "POST")) -> None:
    admin = route.route.startswith("admin/")
    for index, name in enumerate(route.parameters):
        for method in methods:
            # An admin view looks its object up the same way whatever the method: every value by GET,
            # one of each class by POST.
            bad_values = _values_for(index, depth="each-class") if admin and method == "POST" else BAD_VALUES
            for bad in bad_values:
                walk.send(method, route.url({**values, name: bad.raw}), strict=True)


def _values_for(index: int, *, depth: str) -> list[BadValue]:
    """The bad values for the `index`-th parameter of a query or form.

    NUL bytes and broken UTF-8 are refused by one check of the whole query or body before any view
    runs (kamen.middleware), so sending them in the first parameter proves that check stands in front
    of the page. The other classes are judged by the page itself, and go in as deep as its code is
    ours: `depth` "every" sends each variant of each class (the shop's own forms and links: "²" and
    "١٢" fail differently), "each-class" one variant of each class, taken in turn from parameter to
    parameter (the admin's links), "one" a single class, in turn (the admin's forms: Django's own
    fields, which judge every value of a class alike). Path segments get every value.
    """
    refused = [variants[0] for variants in REFUSED] if index == 0 else []
    if depth == "every":
        return refused + [bad for variants in JUDGED for bad in variants]
    if depth == "each-class":
        return refused + [variants[index % len(variants)] for variants in JUDGED]
    variants = JUDGED[index % len(JUDGED)]
    return [*refused, variants[(index // len(JUDGED)) % len(variants)]]


def _walk_query(walk: Walk, route: Route, values: dict[str, str], names: set[str]) -> None:
    url = route.url(values)
    shown = not url.startswith("/admin/")
    for index, name in enumerate(sorted(names)):
        for bad in _values_for(index, depth="every" if shown else "each-class"):
            walk.send("GET", f"{url}?{urlwalk.bad_query([name], bad)}", strict=bad.always_refused)
    # The common names no page links to here, which a view may read all the same, go in together,
    # one request per class: a page that reads any of them reads a bad value.
    unlinked = sorted(set(COMMON_QUERY) - names)
    for variants in (JUDGED if names else REFUSED + JUDGED) if unlinked else ():
        query = "&".join(f"{name}={variants[i % len(variants)].raw}" for i, name in enumerate(unlinked))
        walk.send("GET", f"{url}?{query}", strict=variants[0].always_refused)


def _walk_forms(walk: Walk, forms: list[urlwalk.Form], url: str, allowed=()) -> None:
    # Pages share forms that differ only in the values they carry (every page's language switcher
    # posts its own address as "next"): one of each set of field names is enough.
    distinct: dict[tuple[str, ...], list[tuple[str, str]]] = {}
    for form in forms:
        distinct.setdefault(tuple(name for name, _ in form.fields), form.fields)
    for fields in distinct.values():
        # An inline's "__prefix__" row is the blank template the admin's script copies; the server never reads it.
        names = [name for name in dict(fields) if name != "csrfmiddlewaretoken" and "__prefix__" not in name]
        for index, name in enumerate(names):
            for bad in _values_for(index, depth="one" if url.startswith("/admin/") else "every"):
                body = urlwalk.encode_form(list(fields), bad_field=name, bad=bad)
                walk.send("POST", url, body=body, strict=bad.always_refused, allowed=allowed)


def _walk_notify(walk: Walk, route: Route, values: dict[str, str]) -> None:
    """No page has this form: it is what a gateway posts, with the headers gateways send."""
    for code in NOTIFYING_PROVIDERS:
        url = route.url({**values, "provider_code": code})
        notification = urlwalk.Form(url, "post", fields=list(NOTIFICATION_FIELDS.items()))
        _walk_forms(walk, [notification], url, allowed=urlwalk.REFUSAL_RECORDS)
        for value in BAD_HEADER_VALUES:
            headers = dict.fromkeys(GATEWAY_HEADERS, value)
            walk.send("POST", url, body="trade_no=P1", strict=True, allowed=urlwalk.REFUSAL_RECORDS, **headers)


def _walk_headers(walk: Walk, url: str) -> None:
    # The shop's pages read these headers (the phone check, the language, the client address); the
    # admin's never do, so there the NUL check of kamen.middleware is what is walked.
    for value in BAD_HEADER_VALUES[:1] if url.startswith("/admin/") else BAD_HEADER_VALUES:
        headers = dict.fromkeys(HEADERS, value)
        headers["HTTP_COOKIE"] = "; ".join(f"{name}={value}" for name in COOKIES)
        walk.send("GET", url, strict=True, **headers)
    for bad in (BadValue("nul", "%00"), BadValue("invalid-utf8", "%FF")):
        walk.send("GET", f"{url}?{bad.raw}", strict=True)  # a name without a value


@pytest.mark.postgres
@pytest.mark.parametrize(("role", "part"), WALKS)
def test_every_url_pattern_survives_bad_input_and_writes_nothing(world, role, part):
    walk = _walk(role, world, part)

    print(f"{role} {part}: {walk.requests} requests, {len(walk.failures)} failed")
    assert walk.requests > 300  # every part reaches its pages and forms, not only a few
    assert not walk.failures, f"{len(walk.failures)} of {walk.requests} requests failed:\n" + "\n".join(
        walk.failures[:40]
    )


# ---------------------------------------------------------------------------------------------------
# The shop's own entry points, with values drawn by hypothesis
# ---------------------------------------------------------------------------------------------------
def _digits(categories) -> st.SearchStrategy[bytes]:
    return st.text(alphabet=st.characters(categories=categories), min_size=1, max_size=6).map(str.encode)


BAD_BYTES = st.one_of(
    st.binary(max_size=24),  # anything at all: NUL, bytes that are not UTF-8
    st.text(max_size=24).map(str.encode),  # any Unicode text
    _digits(["Nd", "No"]),  # digits that are not ASCII: ², ①, ١, ５
    st.integers(min_value=-(10**40), max_value=10**40).map(lambda n: str(n).encode()),
    st.integers(min_value=243, max_value=400).map(lambda n: ("a" * n + "@example.com").encode()),
    st.integers(min_value=300, max_value=5000).map(lambda n: b"x" * n),
)

CHECKOUT = {
    "quantity": "1",
    "contact_email": "h@example.com",
    "lookup_password": "pw-1234",
    "payment_method": "sandbox",
}
LOOKUP = {"number": "P1", "contact_email": "h@example.com", "lookup_password": "pw-1234"}
# (method, path with {v} for a path or query value, form fields one of which carries the value)
ENTRY_POINTS = [
    *[("GET", path, None) for path in ("/search/?q={v}", "/search/?page={v}", "/c/{v}/", "/p/{v}/")],
    *[("GET", path, None) for path in ("/orders/{v}/", "/orders/{v}/status/", "/orders/{number}/{v}/")],
    *[("GET", path, None) for path in ("/payments/pay/{v}/", "/payments/pay/{v}/status/", "/orders/mine/?page={v}")],
    *[("POST", "/orders/new/", (CHECKOUT, name)) for name in ("sku", *CHECKOUT)],
    *[("POST", "/orders/lookup/", (LOOKUP, name)) for name in LOOKUP],
    *[
        ("POST", f"/payments/{code}/notify/", ({"out_trade_no": "P1", "total_amount": "1.00", "sign": "x"}, name))
        for code in ("sandbox", "alipay", "wechat")
        for name in ("out_trade_no", "sign")
    ],
]


@pytest.fixture
def hypothesis_shop(db, settings, sku, shopper, alipay_enabled, wechat_enabled, uninstrumented_templates):
    settings.ORDER_LOOKUP_RATE = "100000/m"
    number = factories.place_order(sku, quantity=1).order.number
    # Every example runs in this fixture's transaction: the rows are read once, then only where written.
    return {"number": number, "sku": str(sku.pk), "writes": urlwalk.Writes()}


@hypothesis.settings(
    max_examples=250,
    deadline=None,
    derandomize=True,  # the same examples on every run, so a red CI run can be repeated at a desk
    database=None,
    suppress_health_check=[hypothesis.HealthCheck.function_scoped_fixture, hypothesis.HealthCheck.too_slow],
)
@hypothesis.given(entry=st.sampled_from(ENTRY_POINTS), value=BAD_BYTES)
def test_the_shops_entry_points_answer_any_value_without_a_5xx(client, hypothesis_shop, entry, value):
    method, path, form = entry
    raw = quote_from_bytes(value, safe="")
    hypothesis_shop["writes"].look()  # what earlier examples wrote is not this one's
    if form is None:
        response = client.get(path.format(v=raw, number=hypothesis_shop["number"]))
    else:
        fields, bad = form
        fields = {"sku": hypothesis_shop["sku"], **fields}
        body = "&".join(f"{name}={raw if name == bad else quote(fields[name])}" for name in fields)
        response = client.post(path, data=body, content_type="application/x-www-form-urlencoded")

    assert response.status_code < 500
    before, after = hypothesis_shop["writes"].look()
    if response.status_code >= 400:
        allowed = urlwalk.REFUSAL_RECORDS if "/notify/" in path else ()
        assert [table for table in urlwalk.changed_tables(before, after) if table not in allowed] == []
        assert urlwalk.refusal_records(before, after) == []
