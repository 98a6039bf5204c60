"""Catalog reads on a PostgreSQL read replica, when one is configured (DATABASE_REPLICA_URL).

Off by default. With a replica, reads of what catalog pages show (categories, products, SKUs) that
happen outside a transaction go to it, so the primary is left to checkouts, confirmations and
deliveries. What must be exact never goes there: card codes, and so every stock count, orders,
payments and accounts are read from the primary, as is everything read inside a transaction.

A replica lags its primary a little. A page rendered from it just after a staff edit could show the
product as it was, under the new catalog generation; so with a replica every catalog change starts
one more generation REPLICA_LAG_SECONDS later (catalog.cache), and such a page lives no longer.
"""

from django.conf import settings
from django.db import connections

REPLICA = "replica"


class CatalogReplicaRouter:
    def db_for_read(self, model, **hints):
        if REPLICA not in connections.databases or model._meta.label not in settings.REPLICA_READ_MODELS:
            return None
        if connections["default"].in_atomic_block:
            return None  # a transaction reads what it (and its locks) can see: the primary
        return REPLICA

    def db_for_write(self, model, **hints):
        return "default"

    def allow_relation(self, obj1, obj2, **hints):
        return True  # the replica holds the same rows as the primary

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        return db == "default"
