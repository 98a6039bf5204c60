"""Sessions read from the cache and written through to the database (Django's cached_db)."""

from django.contrib.sessions.backends import cached_db

# Django's own session keys are 32 characters; a cookie that is longer is no key of ours.
MAX_KEY_LENGTH = 40


class SessionStore(cached_db.SessionStore):
    """cached_db, refusing session cookies no session of ours could have, before they reach a cache key."""

    def _validate_session_key(self, key) -> bool:
        return super()._validate_session_key(key) and len(key) <= MAX_KEY_LENGTH
