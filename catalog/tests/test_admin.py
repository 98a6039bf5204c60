"""Catalog admin: every registered page renders, codes stay masked, reveal is permission-checked and audited,
moderation and shelf actions follow the service rules."""

import pytest
from django.contrib import admin
from django.contrib.auth.models import Permission
from django.urls import reverse
from djmoney.money import Money

from accounts import services as wallet_services
from accounts.models import User
from catalog import moderation, services
from catalog.models import CardCode, CardCodeReveal, Category, Product
from kamen.testing import factories
from kamen.testing.pages import messages_of
from orders import services as order_services
from payments.models import PaymentNotification

pytestmark = pytest.mark.usefixtures("english")


def staff_with(*perms: str) -> User:
    """A staff member (not a superuser) holding exactly `perms`, e.g. "catalog.view_cardcode"."""
    user = factories.UserFactory(email="clerk@example.com", is_staff=True)
    for perm in perms:
        app_label, codename = perm.split(".")
        user.user_permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))
    return User.objects.get(pk=user.pk)  # a fresh instance: permissions are cached per object


@pytest.fixture
def everything(sku, sku_factory, staff, shopper, paid_order):
    """One row of every model the admin shows, including an order waiting in the staff queue and a
    buyer's refund request waiting for a decision."""
    placed = factories.place_order(sku, quantity=1)
    PaymentNotification.objects.create(provider="sandbox", payment=placed.payment, body="{}", result="rejected")
    wallet_services.credit_wallet(shopper, Money("5.00", "CNY"), actor=staff, note="test")
    services.reveal_code(CardCode.objects.filter(sku=sku).first(), user=staff, ip="127.0.0.1")
    manual = paid_order(sku_factory(delivery_kind="manual"), 1, user=shopper)
    order_services.request_refund(manual, user=shopper, reason="bought the wrong one")


def test_every_admin_page_renders_for_a_superuser(client, staff, everything):
    client.force_login(staff)
    for model, model_admin in admin.site._registry.items():
        opts = model._meta
        # follow: the shop settings list opens its one row
        changelist = client.get(reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist"), follow=True)
        assert changelist.status_code == 200, opts.label
        obj = model_admin.get_queryset(changelist.wsgi_request).first()
        if obj is not None:
            change = reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk])
            assert client.get(change).status_code == 200, change
        if model_admin.has_add_permission(changelist.wsgi_request):
            add = reverse(f"admin:{opts.app_label}_{opts.model_name}_add")
            assert client.get(add).status_code == 200, add


def test_the_smoke_test_sees_a_row_of_every_model_it_checks(everything):
    # Keeps the smoke test honest: it checks the change page only of models that have a row.
    from accounts.models import Wallet, WalletEntry
    from orders.models import Order, OrderEvent, StaffQueueOrder
    from payments.models import Payment, Refund

    assert StaffQueueOrder.objects.filter(status=Order.Status.AWAITING_MANUAL).exists()
    for model in (Wallet, WalletEntry, Order, OrderEvent, Payment, PaymentNotification, CardCodeReveal, Refund):
        assert model.objects.exists(), model


# ---------------------------------------------------------------------------------------------------
# Card codes: masked everywhere, revealed only with the permission
# ---------------------------------------------------------------------------------------------------
def test_card_codes_are_masked_in_the_list_and_the_change_page(client, staff, sku):
    services.import_codes(sku, "CARDNO-777 SECRET-PAIR-888")
    secrets = [code.secret for code in CardCode.objects.filter(sku=sku)]
    client.force_login(staff)

    listing = client.get(reverse("admin:catalog_cardcode_changelist")).content.decode()
    code = CardCode.objects.get(sku=sku, card_no_encrypted__gt="")
    change = client.get(reverse("admin:catalog_cardcode_change", args=[code.pk])).content.decode()

    for html in (listing, change):
        assert "••••••••" in html
        assert "CARDNO-777" not in html
        assert not [secret for secret in secrets if secret in html]
        assert code.secret_encrypted not in html


def test_masked_codes_carry_a_hint_that_tells_them_apart_without_the_secret(client, staff, sku_factory):
    sku = sku_factory()
    services.import_codes(sku, "CARDNO-7701 PASSWORD-1\nCARDNO-7702 PASSWORD-2\nSECRET-ONLY-3")
    client.force_login(staff)

    listing = client.get(reverse("admin:catalog_cardcode_changelist")).content.decode()

    with_card_no = CardCode.objects.filter(sku=sku, card_no_encrypted__gt="").order_by("id")
    assert [code.hint for code in with_card_no] == ["card no. …01", "card no. …02"]
    secret_only = CardCode.objects.get(sku=sku, card_no_encrypted="")
    assert secret_only.hint == f"batch {secret_only.batch}, line 3"
    for hint in ("card no. …01", "card no. …02", f"batch {secret_only.batch}, line 3"):
        assert hint in listing
    assert "PASSWORD-1" not in listing and "SECRET-ONLY-3" not in listing and "7701" not in listing


def test_card_codes_cannot_be_added_edited_or_deleted_in_admin(client, staff, sku):
    code = CardCode.objects.filter(sku=sku).first()
    client.force_login(staff)

    assert client.get(reverse("admin:catalog_cardcode_add")).status_code == 403
    assert client.get(reverse("admin:catalog_cardcode_delete", args=[code.pk])).status_code == 403
    change = client.get(reverse("admin:catalog_cardcode_change", args=[code.pk])).content.decode()
    assert 'name="_save"' not in change


def test_reveal_without_the_permission_is_forbidden_and_leaves_no_audit_row(client, sku):
    code = CardCode.objects.filter(sku=sku).first()
    client.force_login(staff_with("catalog.view_cardcode"))

    change = client.get(reverse("admin:catalog_cardcode_change", args=[code.pk]))
    response = client.post(reverse("admin:catalog_cardcode_reveal", args=[code.pk]))

    assert change.status_code == 200 and b"Reveal code" not in change.content
    assert response.status_code == 403
    assert code.secret.encode() not in response.content
    assert not CardCodeReveal.objects.exists()


def test_reveal_with_the_permission_shows_the_code_once_and_audits_it(client, sku):
    services.import_codes(sku, "CARD-42 PASS-42")
    code = CardCode.objects.get(sku=sku, card_no_encrypted__gt="")
    clerk = staff_with("catalog.view_cardcode", "catalog.reveal_cardcode")
    client.force_login(clerk)

    change = client.get(reverse("admin:catalog_cardcode_change", args=[code.pk]))
    response = client.post(reverse("admin:catalog_cardcode_reveal", args=[code.pk]))

    assert b"Reveal code" in change.content
    assert response.status_code == 200
    assert b"CARD-42" in response.content and b"PASS-42" in response.content
    assert "no-store" in response["Cache-Control"]
    reveal = CardCodeReveal.objects.get()
    assert (reveal.code, reveal.user, reveal.ip) == (code, clerk, "127.0.0.1")


def test_reveal_only_answers_post(client, staff, sku):
    code = CardCode.objects.filter(sku=sku).first()
    client.force_login(staff)

    response = client.get(reverse("admin:catalog_cardcode_reveal", args=[code.pk]))

    assert response.status_code == 405
    assert not CardCodeReveal.objects.exists()


def test_reveal_service_refuses_a_user_without_the_permission(sku, shopper):
    code = CardCode.objects.filter(sku=sku).first()

    with pytest.raises(services.PermissionDenied):
        services.reveal_code(code, user=shopper, ip=None)
    assert not CardCodeReveal.objects.exists()


def test_the_reveal_audit_trail_is_read_only(client, staff, sku):
    code = CardCode.objects.filter(sku=sku).first()
    services.reveal_code(code, user=staff, ip="10.0.0.1")
    reveal = CardCodeReveal.objects.get()
    client.force_login(staff)

    assert client.get(reverse("admin:catalog_cardcodereveal_add")).status_code == 403
    assert client.get(reverse("admin:catalog_cardcodereveal_delete", args=[reveal.pk])).status_code == 403
    assert (
        client.post(reverse("admin:catalog_cardcodereveal_change", args=[reveal.pk]), {"ip": "1.1.1.1"}).status_code
        == 403
    )
    reveal.refresh_from_db()
    assert reveal.ip == "10.0.0.1"


def test_void_action_voids_only_available_codes(client, staff, sku):
    order_services.place_order(
        sku, quantity=2, user=None, contact_email="b@example.com", lookup_password="abcd", payment_method="sandbox"
    )
    client.force_login(staff)

    response = client.post(
        reverse("admin:catalog_cardcode_changelist"),
        {"action": "void_selected", "_selected_action": list(CardCode.objects.values_list("pk", flat=True))},
    )

    assert response.status_code == 302
    statuses = sorted(CardCode.objects.values_list("status", flat=True))
    assert statuses == ["reserved", "reserved", "void", "void", "void"]
    assert "3 codes voided; 2 were not available" in messages_of(response)[0]


def test_a_pasted_code_finds_its_row_by_fingerprint(client, staff, sku):
    services.import_codes(sku, "FIND-ME-123")
    wanted = CardCode.objects.get(sku=sku, fingerprint=services.crypto.fingerprint("", "FIND-ME-123"))
    client.force_login(staff)

    response = client.get(reverse("admin:catalog_cardcode_changelist"), {"q": "FIND-ME-123"})

    assert list(response.context["cl"].result_list) == [wanted]


def test_the_card_code_list_does_not_query_per_row(client, staff, sku_factory, django_assert_max_num_queries):
    for _ in range(5):
        services.import_codes(sku_factory(), "\n".join(f"Q-{i}" for i in range(20)))
    client.force_login(staff)

    with django_assert_max_num_queries(12):
        assert client.get(reverse("admin:catalog_cardcode_changelist")).status_code == 200


# ---------------------------------------------------------------------------------------------------
# SKUs, categories
# ---------------------------------------------------------------------------------------------------
def test_sku_list_counts_codes_by_status(client, staff, sku):
    order_services.place_order(
        sku, quantity=2, user=None, contact_email="b@example.com", lookup_password="abcd", payment_method="sandbox"
    )
    client.force_login(staff)

    response = client.get(reverse("admin:catalog_sku_changelist"))

    row = response.context["cl"].result_list[0]
    assert (row.available_count, row.reserved_count, row.sold_count) == (3, 2, 0)


def test_a_category_parent_must_be_a_top_category(client, staff):
    top = Category.objects.create(name="游戏点卡", slug="games")
    child = Category.objects.create(name="腾讯", slug="tencent", parent=top)
    client.force_login(staff)

    response = client.post(
        reverse("admin:catalog_category_add"),
        {"name": "太深", "slug": "too-deep", "parent": child.pk, "sort_order": 0, "is_active": "on"},
    )

    assert response.status_code == 200
    assert "parent" in response.context["adminform"].form.errors
    assert not Category.objects.filter(slug="too-deep").exists()


# ---------------------------------------------------------------------------------------------------
# Product moderation
# ---------------------------------------------------------------------------------------------------
def act(client, action: str, products, **extra):
    data = {"action": action, "_selected_action": [p.pk for p in products], **extra}
    return client.post(reverse("admin:catalog_product_changelist"), data)


def test_submit_and_approve_move_a_draft_to_approved(client, staff, product_factory):
    product = product_factory(status=Product.Status.DRAFT, is_on_shelf=False)
    client.force_login(staff)

    act(client, "submit_for_review", [product])
    product.refresh_from_db()
    assert product.status == Product.Status.PENDING

    act(client, "approve", [product])
    product.refresh_from_db()
    assert product.status == Product.Status.APPROVED and not product.is_on_shelf


def test_reject_asks_for_a_reason_and_takes_the_product_off_the_shelf(client, staff, product_factory):
    product = product_factory()
    client.force_login(staff)

    asked = act(client, "reject", [product])
    blank = act(client, "reject", [product], apply="1", reason="  ")
    product.refresh_from_db()
    assert asked.status_code == 200 and b'name="reason"' in asked.content
    assert blank.status_code == 200 and product.status == Product.Status.APPROVED

    done = act(client, "reject", [product], apply="1", reason="图片侵权")
    product.refresh_from_db()
    assert done.status_code == 302
    assert (product.status, product.rejection_reason, product.is_on_shelf) == ("rejected", "图片侵权", False)


def test_only_approved_products_go_on_the_shelf(client, staff, product_factory):
    approved = product_factory(is_on_shelf=False)
    pending = product_factory(status=Product.Status.PENDING, is_on_shelf=False)
    client.force_login(staff)

    response = act(client, "put_on_shelf", [approved, pending])

    approved.refresh_from_db()
    pending.refresh_from_db()
    assert approved.is_on_shelf and not pending.is_on_shelf
    assert any("not approved" in m for m in messages_of(response))


def test_take_off_shelf(client, staff, product_factory):
    product = product_factory()
    client.force_login(staff)

    act(client, "take_off_shelf", [product])

    product.refresh_from_db()
    assert product.status == Product.Status.APPROVED and not product.is_on_shelf


def test_submit_refuses_an_approved_product(product_factory, staff):
    product = product_factory()

    with pytest.raises(moderation.ModerationError):
        moderation.moderate(product, Product.Status.PENDING, actor=staff)
    product.refresh_from_db()
    assert product.status == Product.Status.APPROVED and product.is_on_shelf


def test_the_product_form_cannot_set_status_or_shelf(client, staff, product_factory):
    product = product_factory(status=Product.Status.DRAFT, is_on_shelf=False)
    client.force_login(staff)
    data = {
        "category": product.category_id,
        "title": "改名",
        "description": "",
        "min_per_order": 1,
        "max_per_order": 10,
        "sort_order": 0,
        "status": "approved",
        "is_on_shelf": "on",
        "skus-TOTAL_FORMS": 0,
        "skus-INITIAL_FORMS": 0,
        "buyer_fields-TOTAL_FORMS": 0,
        "buyer_fields-INITIAL_FORMS": 0,
    }

    response = client.post(reverse("admin:catalog_product_change", args=[product.pk]), data)

    product.refresh_from_db()
    assert response.status_code == 302
    assert (product.title, product.status, product.is_on_shelf) == ("改名", "draft", False)


def test_filtering_by_a_top_category_includes_its_children(client, staff, product_factory):
    top = Category.objects.create(name="游戏点卡", slug="games")
    child = Category.objects.create(name="腾讯", slug="tencent", parent=top)
    in_child = product_factory(category=child)
    product_factory()  # elsewhere
    client.force_login(staff)

    by_top = client.get(reverse("admin:catalog_product_changelist"), {"category": top.pk})
    by_child = client.get(reverse("admin:catalog_sku_changelist"), {"category": child.pk})

    assert list(by_top.context["cl"].result_list) == [in_child]
    assert list(by_child.context["cl"].result_list) == []  # no SKUs yet, but the filter applies
