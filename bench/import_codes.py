"""Card-code import: 100,000 pasted codes into one SKU through `catalog.services.import_codes`.

Runs the real service (parsing, fingerprints, encryption, duplicate check, bulk insert) in this process
against the PostgreSQL bench database, then imports the same text again, which must skip every code as
a duplicate. Prints codes per second for both as one JSON line.

    .venv/bin/python bench/import_codes.py     # BENCH_DATABASE_URL optional
"""

import time

from common import emit, fresh_database, log, setup_django

CODES = 100_000


def main() -> None:
    fresh_database()
    setup_django()

    from catalog.models import Category, Product, Sku
    from catalog.services import import_codes
    from kamen.money import cny

    category = Category.objects.create(name="导入", slug="import")
    product = Product.objects.create(category=category, title="导入测试", status=Product.Status.APPROVED)
    sku = Sku.objects.create(product=product, name="100元面值", price=cny("100.00"))
    # Card number and password pairs, as suppliers hand them over.
    text = "\n".join(f"CARD{n:010d} PW{n * 2654435761 % 10**12:012d}" for n in range(CODES))

    log(f"importing {CODES} codes")
    started = time.perf_counter()
    first = import_codes(sku, text)
    seconds = time.perf_counter() - started
    log(f"imported {first.added} in {seconds:.1f} s; importing the same text again")
    started = time.perf_counter()
    again = import_codes(sku, text)
    reimport_seconds = time.perf_counter() - started
    emit(
        {
            "bench": "import",
            "codes": CODES,
            "added": first.added,
            "seconds": round(seconds, 2),
            "codes_per_second": round(first.added / seconds),
            "reimport_seconds": round(reimport_seconds, 2),
            "reimport_codes_per_second": round(CODES / reimport_seconds),
            "reimport_skipped": again.skipped,
        }
    )


if __name__ == "__main__":
    main()
