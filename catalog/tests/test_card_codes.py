import pytest
from cryptography.fernet import Fernet
from django.db import connection

from catalog import crypto, selectors, services
from catalog.models import CardCode
from kamen.testing import factories


def test_the_database_never_holds_a_code_in_plaintext(sku):
    services.import_codes(sku, "ABCD-1234-SECRET 9876-PLAIN-PASSWORD")

    code = CardCode.objects.get(sku=sku, card_no_encrypted__gt="")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT card_no_encrypted, secret_encrypted, fingerprint FROM catalog_cardcode WHERE id = %s", [code.pk]
        )
        raw = " ".join(cursor.fetchone())
    assert "ABCD-1234-SECRET" not in raw and "9876-PLAIN-PASSWORD" not in raw
    assert (code.card_no, code.secret) == ("ABCD-1234-SECRET", "9876-PLAIN-PASSWORD")


def test_old_keys_still_decrypt_after_rotation(sku, settings):
    services.import_codes(sku, "OLD-KEY-CODE")
    settings.CARD_CODE_KEYS = [Fernet.generate_key().decode(), *settings.CARD_CODE_KEYS]
    crypto._fernet.cache_clear()
    try:
        code = CardCode.objects.get(
            sku=sku, secret_encrypted__gt="", fingerprint=crypto.fingerprint("", "OLD-KEY-CODE")
        )
        assert code.secret == "OLD-KEY-CODE"
        assert crypto.decrypt(crypto.rotate(code.secret_encrypted)) == "OLD-KEY-CODE"
    finally:
        crypto._fernet.cache_clear()


def test_import_skips_blanks_and_duplicates_in_the_batch_and_in_stock(sku):
    result = services.import_codes(sku, f"NEW-1\n\n  \nNEW-2\nNEW-1\nCODE-{sku.pk}-000000\nA B C\n")

    assert (result.added, result.duplicates, result.blank, result.invalid) == (2, 2, 2, 1)
    assert result.skipped == 3
    assert selectors.sku_stock(sku.product_id)[sku.pk].free == 7


def test_the_same_code_may_exist_in_two_skus(sku):
    other = factories.SkuFactory()

    services.import_codes(other, f"CODE-{sku.pk}-000000")

    assert selectors.sku_stock(other.product_id)[other.pk].free == 1


def test_pairs_are_split_on_common_separators(sku):
    pairs, blank, invalid = services.parse_codes("NO1 PW1\nNO2,PW2\nNO3\tPW3\nNO4----PW4\nONLY")
    assert pairs == [("NO1", "PW1"), ("NO2", "PW2"), ("NO3", "PW3"), ("NO4", "PW4"), ("", "ONLY")]
    assert (blank, invalid) == (0, 0)


def test_csv_files_are_read_as_columns():
    pairs, blank, invalid = services.parse_codes('card,pass\n"X 1",Y1\n\n', csv_format=True)
    assert pairs == [("card", "pass"), ("X 1", "Y1")]
    assert blank == 1


def test_stock_counts_only_available_codes(sku):
    from orders import services as order_services

    order_services.place_order(
        sku, quantity=2, user=None, contact_email="a@example.com", lookup_password="abcd", payment_method="sandbox"
    )

    assert selectors.sku_stock(sku.product_id)[sku.pk].free == 3
    assert selectors.skus_with_stock(sku.product)[0].stock == 3
    product = selectors.with_figures([sku.product])[0]
    assert selectors.free_codes_by_product([product.pk]) == {product.pk: 3} and product.min_price.amount == 10


@pytest.mark.parametrize("status", ["draft", "pending", "rejected"])
def test_only_approved_products_are_visible(db, status):
    product = factories.ProductFactory(status=status)
    assert product not in selectors.listing()
