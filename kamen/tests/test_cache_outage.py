"""With Redis down, shop pages still render, checkout still ends on the payment page, and rate limits
still count; a stock change made meanwhile shows once Redis is back.

The cache is the one production uses (kamen.settings.redis_cache), pointed at a port nothing
listens on, or at a private redis-server that the test kills and starts again.
"""

import re

import pytest
from django.core.cache import cache
from django.urls import reverse

from accounts.services import confirm_email
from catalog.cache import GENERATION_KEY, fragment_key
from kamen import cache as kamen_cache
from kamen.settings import redis_cache
from kamen.testing import factories
from kamen.testing.outage import RedisServer, free_port
from kamen.testing.pages import guest_checkout
from orders.models import Order


@pytest.fixture
def cache_down(settings):
    """The production cache configuration, pointed at a Redis that is not there."""
    settings.CACHES = redis_cache(f"redis://127.0.0.1:{free_port()}/0")
    kamen_cache._down_until.clear()
    yield
    kamen_cache._down_until.clear()


@pytest.fixture
def private_redis():
    server = RedisServer().start()
    yield server
    server.cleanup()


def ok(client, url, **kwargs) -> str:
    response = client.get(url, **kwargs)
    assert response.status_code == 200, (url, response.status_code)
    return response.content.decode()


def test_shop_pages_render_while_the_cache_is_down(client, sku, cache_down):
    product = sku.product

    pages = {
        "home": ok(client, reverse("catalog:home")),
        "listing": ok(client, product.category.get_absolute_url()),
        "search": ok(client, reverse("catalog:search"), data={"q": product.title[:4]}),
        "product": ok(client, product.get_absolute_url()),
        "lookup": ok(client, reverse("orders:lookup")),
        "login": ok(client, reverse("account_login")),
    }

    for name in ("home", "listing", "search", "product"):
        assert product.title in pages[name], name
    assert re.search(r"库存\s*5", pages["listing"])


def test_checkout_ends_on_the_payment_page_while_the_cache_is_down(client, sku, cache_down):
    # given the catalog cache cannot be told that stock changed

    # when a guest checks out
    response = guest_checkout(client, sku)

    # then the committed order is the shopper's to pay, not an error page
    assert response.status_code == 302
    order = Order.objects.get()
    assert client.get(response["Location"]).status_code == 302  # our payment page sends on to the cashier
    assert ok(client, order.get_absolute_url())
    assert re.search(r"库存\s*3", ok(client, sku.product.category.get_absolute_url()))


def test_rate_limits_still_count_while_the_cache_is_down(client, db, settings, cache_down):
    # Neither open (unlimited guessing during an outage) nor closed (nobody can look up an order).
    settings.ORDER_LOOKUP_RATE = "3/m"
    url = reverse("orders:lookup")
    data = {"number": "20260101000000000000", "contact_email": "x@example.com", "lookup_password": "guess"}

    answers = [client.post(url, data).status_code for _ in range(5)]

    assert answers == [400, 400, 400, 429, 429]


def test_sign_in_works_while_the_cache_is_down(client, shopper, cache_down):
    shopper.set_password("a-long-password-1")
    shopper.save()
    confirm_email(shopper)

    response = client.post(reverse("account_login"), {"login": shopper.email, "password": "a-long-password-1"})

    assert response.status_code == 302
    assert ok(client, reverse("orders:mine"))


def test_a_stock_change_during_a_cache_outage_shows_once_the_cache_is_back(client, sku, settings, private_redis):
    # given a listing cached in Redis
    settings.CACHES = redis_cache(private_redis.url)
    kamen_cache._down_until.clear()
    url = sku.product.category.get_absolute_url()
    assert re.search(r"库存\s*5", ok(client, url))
    generation = cache.get(GENERATION_KEY)
    cached_listing = fragment_key("listing", f"c{sku.product.category_id}", "1", 0)  # 0: no member levels
    assert cache.get(cached_listing) is not None

    # when Redis crashes, two codes are sold meanwhile, and Redis comes back with what it had saved
    private_redis.kill()
    factories.place_order(sku, quantity=2)
    assert re.search(r"库存\s*3", ok(client, url))  # rendered from the database meanwhile
    private_redis.start()
    kamen_cache._down_until.clear()  # the quiet period after the failure is over
    assert cache.get(GENERATION_KEY) == generation and cache.get(cached_listing) is not None

    # then the listing cached before the outage is never shown again
    assert re.search(r"库存\s*3", ok(client, url))
    assert cache.get(GENERATION_KEY) != generation


def test_the_cache_answers_from_process_memory_and_returns_to_redis(settings, private_redis):
    settings.CACHES = redis_cache(private_redis.url)
    kamen_cache._down_until.clear()
    cache.set("k", "shared", 60)

    private_redis.kill()
    assert cache.get("k") is None  # the shared value is out of reach, never an error
    cache.set("k", "local", 60)
    assert cache.get("k") == "local"
    assert not kamen_cache.shared_cache_available()

    private_redis.start()
    kamen_cache._down_until.clear()
    assert cache.get("k") == "shared"  # kept by Redis' append-only file across the crash
    assert kamen_cache.shared_cache_available()


def test_every_cache_call_of_a_thread_goes_through_one_redis_client(settings, private_redis):
    settings.CACHES = redis_cache(private_redis.url)
    client = cache._cache.get_client(write=True)
    cache.set("answer", 42)
    assert cache.get("answer") == 42 and cache.get_many(["answer"]) == {"answer": 42}
    assert cache._cache.get_client(write=True) is client and cache._cache.get_client() is client
