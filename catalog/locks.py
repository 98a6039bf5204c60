"""Row locks of the catalog (see kamen.locking for the rules every lock keeps)."""

from kamen.locking import lock_free_pks, lock_one

from .models import CardCode, Product


def lock_free_codes(sku_id: int, count: int) -> list[int]:
    """Up to `count` available codes of a Sku that no concurrent checkout holds; returns their ids."""
    available = CardCode.objects.filter(sku_id=sku_id, status=CardCode.Status.AVAILABLE)
    return lock_free_pks(available, limit=count)


def lock_product(product_id: int) -> Product:
    return lock_one(Product.objects.all(), pk=product_id)
