"""Moderation: the review queue, the prohibited-goods policy, audited decisions, re-review of a changed
product, and the rejection reason reaching whoever submitted the product."""

import importlib

import pytest
from django.apps import apps as django_apps
from django.contrib.auth.models import Permission
from django.core.exceptions import PermissionDenied
from django.urls import reverse
from django.utils import timezone

from accounts.models import Message, User
from catalog import crypto, moderation, policy
from catalog.models import Category, Product, ProhibitedRule, Sku, Supplier
from kamen.models import StaffAction
from kamen.testing import factories
from kamen.testing.fake_fulu import fake_fulu  # noqa: F401  (the fixture)
from kamen.testing.pages import messages_of

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("english", "migrated_rules")]


@pytest.fixture
def migrated_rules(db):
    """The rules the data migration leaves. A transactional test run earlier in the same process empties
    every table of the test database, migrated rows too; the migration's own function puts them back."""
    if not ProhibitedRule.objects.exists():
        migration = importlib.import_module("catalog.migrations.0014_default_prohibited_rules")
        migration.add_default_rules(django_apps, None)


DEFAULT_RULES = {"虚拟货币", "违规账号买卖", "洗钱与盗刷", "赌博", "外挂与作弊", "身份证件与个人信息"}


def staff_with(email: str, *perms: str) -> User:
    """A staff member (not a superuser) holding exactly `perms`, e.g. "catalog.change_product"."""
    user = factories.UserFactory(email=email, is_staff=True)
    for perm in perms:
        app_label, codename = perm.split(".")
        user.user_permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))
    return User.objects.get(pk=user.pk)  # a fresh instance: permissions are cached per object


@pytest.fixture
def editor(db) -> User:
    """Edits and submits products, but may not approve them."""
    return staff_with("editor@example.com", "catalog.view_product", "catalog.change_product")


@pytest.fixture
def moderator(db) -> User:
    return staff_with(
        "moderator@example.com", "catalog.view_product", "catalog.change_product", "catalog.approve_product"
    )


def pending(product_factory, **fields) -> Product:
    return product_factory(status=Product.Status.PENDING, is_on_shelf=False, **fields)


def act(client, action: str, products, *, on: str = "product", **extra):
    data = {"action": action, "_selected_action": [p.pk for p in products], **extra}
    return client.post(reverse(f"admin:catalog_{on}_changelist"), data)


def moderation_rows(product: Product) -> list[StaffAction]:
    return list(StaffAction.objects.filter(kind="moderation", target_id=str(product.pk)).order_by("id"))


def product_form(product: Product, **fields) -> dict:
    """What the product change form posts for `product` (no SKU or buyer-field rows), `fields` changed."""
    data = {
        "category": product.category_id,
        "title": product.title,
        "brand": product.brand,
        "keywords": product.keywords,
        "description": product.description,
        "instructions": product.instructions,
        "min_per_order": product.min_per_order,
        "max_per_order": product.max_per_order,
        "sort_order": product.sort_order,
        "skus-TOTAL_FORMS": 0,
        "skus-INITIAL_FORMS": 0,
        "buyer_fields-TOTAL_FORMS": 0,
        "buyer_fields-INITIAL_FORMS": 0,
    }
    return {**data, **fields}


# ---------------------------------------------------------------------------------------------------
# The prohibited-goods policy
# ---------------------------------------------------------------------------------------------------
def test_the_default_rules_exist_after_migrate(db):
    rules = {rule.name: rule for rule in ProhibitedRule.objects.filter(is_active=True)}

    assert set(rules) >= DEFAULT_RULES
    assert {"比特币", "USDT", "ETH"} <= set(rules["虚拟货币"].words)
    assert {"QQ号出售", "黑号", "解封"} <= set(rules["违规账号买卖"].words)
    assert all(rule.reason for rule in rules.values())


def test_a_prohibited_product_cannot_be_approved_and_the_rule_is_named(product_factory, staff):
    product = pending(product_factory, title="比特币 兑换码")

    with pytest.raises(moderation.ModerationError) as refused:
        moderation.moderate(product, Product.Status.APPROVED, actor=staff)

    assert "虚拟货币" in str(refused.value) and "比特币" in str(refused.value)
    product.refresh_from_db()
    assert product.status == Product.Status.PENDING
    assert moderation_rows(product) == []


@pytest.mark.parametrize(
    ("where", "hits"),
    [
        ({"title": "ＵＳＤＴ 充值"}, "USDT"),  # full-width letters fold to the same word
        ({"title": "usdt 充值"}, "USDT"),
        ({"description": "支持 BTC 钱包"}, "BTC"),
        ({"keywords": "QQ号出售 靓号"}, "QQ号出售"),
        ({"title": "Method 会员月卡"}, None),  # ETH only as a whole word
        ({"title": "腾讯 Q币 10元"}, None),
    ],
)
def test_keywords_match_case_insensitively_and_latin_words_as_whole_words(product_factory, where, hits):
    product = product_factory(**where)

    hit = policy.check(product)

    assert (hit.matched if hit else None) == hits


def test_sku_names_and_category_names_are_checked_too(product_factory, sku_factory):
    on_sku = sku_factory(name="以太坊 0.1 个").product
    in_category = product_factory(category=Category.objects.create(name="博彩点卡", slug="bets"))

    assert policy.check(on_sku).rule == "虚拟货币"
    assert policy.check(in_category).rule == "赌博"


def test_a_category_rule_hits_its_category_and_the_categories_under_it(product_factory):
    top = Category.objects.create(name="礼品卡", slug="gifts")
    child = Category.objects.create(name="海外礼品卡", slug="gifts-abroad", parent=top)
    ProhibitedRule.objects.create(name="境外礼品卡", kind=ProhibitedRule.Kind.CATEGORY, category=top)

    assert policy.check(product_factory(category=child)).rule == "境外礼品卡"
    assert policy.check(product_factory()) is None


def test_an_inactive_rule_hits_nothing(product_factory):
    ProhibitedRule.objects.filter(name="虚拟货币").update(is_active=False)

    assert policy.check(product_factory(title="比特币")) is None


def test_the_approve_action_refuses_a_prohibited_product_and_names_the_rule(client, staff, product_factory):
    product = pending(product_factory, title="外挂 月卡")
    client.force_login(staff)

    response = act(client, "approve", [product])

    product.refresh_from_db()
    assert product.status == Product.Status.PENDING
    assert any("外挂与作弊" in text and "外挂" in text for text in messages_of(response))


def test_rules_are_kept_in_admin_and_each_edit_is_audited(client, staff):
    client.force_login(staff)
    data = {"name": "代练", "kind": "keyword", "keywords": "代练\n陪玩", "reason": "本店不售", "is_active": "on"}

    added = client.post(reverse("admin:catalog_prohibitedrule_add"), data)
    empty = client.post(reverse("admin:catalog_prohibitedrule_add"), {**data, "name": "空", "keywords": " "})

    assert added.status_code == 302 and empty.status_code == 200
    rule = ProhibitedRule.objects.get(name="代练")
    assert rule.words == ["代练", "陪玩"]
    row = StaffAction.objects.get(kind="moderation", target_id=str(rule.pk), target_label="代练")
    assert (row.actor, row.after["keywords"]) == (staff, "代练\n陪玩")


def test_staff_without_the_rules_permissions_cannot_change_them(client, editor):
    client.force_login(editor)

    assert client.get(reverse("admin:catalog_prohibitedrule_changelist")).status_code == 403


# ---------------------------------------------------------------------------------------------------
# Decisions: permission, audit, the submitter told
# ---------------------------------------------------------------------------------------------------
def test_every_decision_is_audited_with_who_and_before_and_after(client, staff, product_factory):
    product = product_factory(status=Product.Status.DRAFT, is_on_shelf=False)
    client.force_login(staff)

    act(client, "submit_for_review", [product])
    act(client, "reject", [product], apply="1", reason="图片模糊")
    act(client, "submit_for_review", [product])
    act(client, "approve", [product])

    submit, reject, resubmit, approve = moderation_rows(product)
    assert {row.actor for row in (submit, reject, resubmit, approve)} == {staff}
    assert (submit.before["status"], submit.after["status"]) == ("draft", "pending")
    assert submit.after["review_cause"] == "submitted"
    assert (reject.before["status"], reject.after, reject.note) == (
        "pending",
        {"status": "rejected", "rejection_reason": "图片模糊", "review_cause": ""},
        "图片模糊",
    )
    assert (resubmit.before["rejection_reason"], resubmit.after["rejection_reason"]) == ("图片模糊", "")
    assert (approve.before["status"], approve.after["status"]) == ("pending", "approved")
    assert approve.ip == "127.0.0.1"


def test_staff_without_the_approve_permission_cannot_approve_or_reject(client, editor, product_factory):
    product = pending(product_factory)
    client.force_login(editor)

    listing = client.get(reverse("admin:catalog_product_changelist"))
    act(client, "approve", [product])
    button = client.post(reverse("admin:catalog_reviewqueueproduct_approve", args=[product.pk]))
    with pytest.raises(PermissionDenied):
        moderation.moderate(product, Product.Status.REJECTED, actor=editor, reason="不行")

    product.refresh_from_db()
    assert product.status == Product.Status.PENDING
    actions = [value for value, _label in listing.context["action_form"].fields["action"].choices]
    assert "submit_for_review" in actions and "approve" not in actions and "reject" not in actions
    assert button.status_code == 403
    assert moderation_rows(product) == []


def test_the_rejection_reason_reaches_the_submitter(client, editor, moderator, product_factory):
    product = product_factory(status=Product.Status.DRAFT, is_on_shelf=False)
    moderation.moderate(product, Product.Status.PENDING, actor=editor)
    client.force_login(moderator)

    response = client.post(
        reverse("admin:catalog_reviewqueueproduct_reject", args=[product.pk]), {"reason": "描述与实物不符"}
    )

    product.refresh_from_db()
    assert response.status_code == 302
    assert (product.status, product.rejection_reason, product.submitted_by) == ("rejected", "描述与实物不符", editor)
    message = Message.objects.get(user=editor, kind=Message.Kind.MODERATION)
    assert product.title in message.title and "描述与实物不符" in message.body
    assert message.link == reverse("admin:catalog_product_change", args=[product.pk])
    client.force_login(editor)
    page = client.get(message.link).content.decode()
    assert "Not approved: 描述与实物不符" in page


def test_a_rejection_of_a_product_found_upstream_writes_no_message(staff, product_factory):
    product = pending(product_factory)

    moderation.moderate(product, Product.Status.REJECTED, actor=staff, reason="重复商品")

    assert not Message.objects.exists()


# ---------------------------------------------------------------------------------------------------
# The review queue
# ---------------------------------------------------------------------------------------------------
def test_the_queue_lists_only_pending_products_oldest_first_with_any_rule_hit(client, staff, product_factory):
    now = timezone.now()
    newer = pending(product_factory, title="新提交的商品")
    older = pending(product_factory, title="比特币 早提交的")
    Product.objects.filter(pk=newer.pk).update(submitted_at=now, review_cause="submitted")
    Product.objects.filter(pk=older.pk).update(submitted_at=now - timezone.timedelta(hours=2), review_cause="upstream")
    product_factory(title="已上架")
    product_factory(title="草稿", status=Product.Status.DRAFT)
    client.force_login(staff)

    response = client.get(reverse("admin:catalog_reviewqueueproduct_changelist"))

    assert [p.pk for p in response.context["cl"].result_list] == [older.pk, newer.pk]
    html = response.content.decode()
    assert "Found at a supplier" in html and "“虚拟货币”: 比特币" in html
    assert "已上架" not in html and "草稿" not in html


def test_the_queue_checks_a_page_of_products_in_a_bounded_number_of_queries(
    client, staff, product_factory, sku_factory, django_assert_max_num_queries
):
    for _n in range(6):
        sku_factory(product=pending(product_factory))
    client.force_login(staff)

    with django_assert_max_num_queries(14):
        client.get(reverse("admin:catalog_reviewqueueproduct_changelist"))


def test_approve_from_the_queue_and_from_the_products_page(client, moderator, product_factory):
    from_list, from_page = pending(product_factory), pending(product_factory)
    client.force_login(moderator)
    page_url = reverse("admin:catalog_product_change", args=[from_page.pk])

    page = client.get(page_url).content.decode()
    act(client, "approve", [from_list], on="reviewqueueproduct")
    back = client.post(reverse("admin:catalog_reviewqueueproduct_approve", args=[from_page.pk]), {"next": page_url})

    assert reverse("admin:catalog_reviewqueueproduct_approve", args=[from_page.pk]) in page
    assert back.status_code == 302 and back["Location"] == page_url
    assert set(Product.objects.values_list("status", flat=True)) == {"approved"}


def test_reject_from_the_queue_asks_for_a_reason(client, moderator, product_factory):
    product = pending(product_factory)
    client.force_login(moderator)

    asked = act(client, "reject", [product], on="reviewqueueproduct")
    done = act(client, "reject", [product], on="reviewqueueproduct", apply="1", reason="价格异常")

    product.refresh_from_db()
    assert asked.status_code == 200 and b'name="reason"' in asked.content
    assert done.status_code == 302 and (product.status, product.rejection_reason) == ("rejected", "价格异常")


def test_products_found_upstream_wait_in_the_queue(fake_fulu):  # noqa: F811
    from catalog.supply import sync_supplier

    fake_fulu.add_product(301, "腾讯Q币30元", "27.00", stock=5)
    supplier = Supplier(name="福禄", adapter="fulu", base_url=fake_fulu.url, account=fake_fulu.app_key)
    supplier.secret_encrypted = crypto.encrypt(fake_fulu.app_secret)
    supplier.save()

    sync_supplier(supplier)

    product = Sku.objects.get(supplies__supplier=supplier).product
    assert (product.status, product.review_cause, product.is_on_shelf) == ("pending", "upstream", False)
    assert product.submitted_at is not None
    (row,) = moderation_rows(product)
    assert (row.actor, row.after["review_cause"], row.note) == (None, "upstream", "Found at 福禄")


# ---------------------------------------------------------------------------------------------------
# An approved product changed goes back to review
# ---------------------------------------------------------------------------------------------------
def test_an_edit_by_someone_who_may_not_approve_sends_the_product_back_to_review(client, editor, product_factory):
    product = product_factory(title="腾讯视频月卡")
    client.force_login(editor)

    response = client.post(
        reverse("admin:catalog_product_change", args=[product.pk]), product_form(product, title="腾讯视频年卡")
    )

    product.refresh_from_db()
    assert response.status_code == 302
    assert (product.status, product.is_on_shelf, product.review_cause) == ("pending", False, "changed")
    assert (product.review_changes, product.submitted_by) == (["title"], editor)
    (row,) = moderation_rows(product)
    assert row.before == {"status": "approved", "title": "腾讯视频月卡"}
    assert row.after == {"status": "pending", "title": "腾讯视频年卡"}
    assert any("waits for review again" in text for text in messages_of(response))


def test_an_edit_of_what_shoppers_do_not_see_keeps_the_product_approved(client, editor, product_factory):
    product = product_factory()
    client.force_login(editor)

    client.post(reverse("admin:catalog_product_change", args=[product.pk]), product_form(product, sort_order=5))

    product.refresh_from_db()
    assert (product.status, product.is_on_shelf, product.sort_order) == ("approved", True, 5)
    assert moderation_rows(product) == []


def test_an_approvers_edit_stays_approved_unless_it_hits_a_rule(client, moderator, product_factory):
    kept, hit = product_factory(), product_factory()
    client.force_login(moderator)

    client.post(reverse("admin:catalog_product_change", args=[kept.pk]), product_form(kept, title="网易云音乐月卡"))
    client.post(reverse("admin:catalog_product_change", args=[hit.pk]), product_form(hit, title="USDT 充值卡"))

    kept.refresh_from_db()
    hit.refresh_from_db()
    assert (kept.status, kept.is_on_shelf) == ("approved", True)
    assert (hit.status, hit.is_on_shelf) == ("pending", False)
    assert "虚拟货币" in moderation_rows(hit)[0].note


def test_renaming_a_sku_counts_as_a_change_of_its_product(editor, sku):
    before = moderation.content_of(sku.product)
    Sku.objects.filter(pk=sku.pk).update(name="实名账号 一个")

    assert moderation.review_edit(sku.product, before=before, actor=editor)

    sku.product.refresh_from_db()
    assert (sku.product.status, sku.product.review_changes) == ("pending", ["skus"])
