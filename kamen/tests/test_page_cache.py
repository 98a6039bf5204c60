"""kamen.page_cache: a page missing from the cache is rendered once, not by every request that misses it."""

import threading

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.cache import cache
from django.http import HttpResponse

from kamen import page_cache


def visitor(rf, path="/p/1/"):
    request = rf.get(path)
    request.user = AnonymousUser()
    return request


def test_a_request_that_misses_while_another_renders_serves_that_rendering(rf, db):
    request = visitor(rf)
    key = page_cache.page_key(request, ("p", 1))
    assert cache.add(f"{key}:rendering", 1, 5)  # another request claimed the rendering
    stored = ("<p>rendered once</p>", "text/html; charset=utf-8")
    threading.Timer(0.05, lambda: cache.set(key, stored, 60)).start()

    response = page_cache.serve(request, ("p", 1), lambda: pytest.fail("rendered a second time"))

    assert response.status_code == 200 and response.content == b"<p>rendered once</p>"


def test_a_rendering_that_never_comes_is_not_waited_for_long(rf, db, settings):
    request = visitor(rf)
    key = page_cache.page_key(request, ("p", 1))
    cache.add(f"{key}:rendering", 1, 5)  # claimed by a request that died

    response = page_cache.serve(request, ("p", 1), lambda: HttpResponse("<p>rendered here</p>"))

    assert response.content == b"<p>rendered here</p>"
    assert cache.get(key) is not None and cache.get(f"{key}:rendering") is None


def test_a_page_that_is_not_found_leaves_no_claim_to_wait_on(rf, db):
    from django.http import Http404

    request = visitor(rf)
    key = page_cache.page_key(request, ("p", 1))

    def missing() -> HttpResponse:
        raise Http404

    with pytest.raises(Http404):
        page_cache.serve(request, ("p", 1), missing)

    assert cache.get(f"{key}:rendering") is None and cache.get(key) is None
