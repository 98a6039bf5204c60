"""Copies of shared-cache entries kept in the process: read without asking Redis, bounded in age and number."""

from django.core.cache import cache

from kamen.cache import LocalCopies


def test_an_entry_read_or_written_once_is_then_read_from_the_process(db):
    copies = LocalCopies(size=10, seconds=60)
    cache.set("page:read", "read")
    assert copies.get("page:read") == "read"
    copies.set("page:written", "written", 60)
    assert cache.get("page:written") == "written"  # written through to the shared cache

    cache.delete_many(["page:read", "page:written"])  # the shared cache is not asked again
    assert copies.get_many(["page:read", "page:written", "page:never"]) == {
        "page:read": "read",
        "page:written": "written",
    }


def test_a_copy_past_its_age_is_read_again_from_the_shared_cache(db):
    copies = LocalCopies(size=10, seconds=0)
    copies.set("page:a", "old", 60)
    cache.set("page:a", "new")
    assert copies.get("page:a") == "new"


def test_beyond_its_size_the_least_recently_used_copy_goes_first(db):
    copies = LocalCopies(size=2, seconds=60)
    copies.set("page:a", "a", 60)
    copies.set("page:b", "b", 60)
    assert copies.get("page:a") == "a"  # used: b is now the oldest
    copies.set("page:c", "c", 60)
    cache.clear()
    assert copies.get_many(["page:a", "page:b", "page:c"]) == {"page:a": "a", "page:c": "c"}
