import re

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from djmoney.models.fields import MoneyField

from kamen.migration_operations import PostgreSQLGinIndex

from . import crypto, search


class Category(models.Model):
    """Two levels: top categories (游戏点卡, 会员) and their children."""

    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children", verbose_name=_("parent")
    )
    name = models.CharField(_("name"), max_length=60)
    slug = models.SlugField(_("slug"), max_length=60, unique=True)
    sort_order = models.IntegerField(_("sort order"), default=0)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("category")
        verbose_name_plural = _("categories")
        ordering = ["sort_order", "id"]

    def __str__(self) -> str:
        return f"{self.parent.name} / {self.name}" if self.parent_id and self.parent else self.name

    def get_absolute_url(self) -> str:
        return reverse("catalog:category", args=[self.slug])

    def clean(self) -> None:
        from django.core.exceptions import ValidationError

        if self.parent_id and self.parent.parent_id:
            raise ValidationError({"parent": _("Categories have at most two levels.")})
        if self.pk and self.parent_id and self.children.exists():
            raise ValidationError({"parent": _("A category with children cannot become a child.")})


class ProductQuerySet(models.QuerySet):
    def visible(self) -> "ProductQuerySet":
        """What shoppers may see and buy: approved and on the shelf."""
        return self.filter(status=Product.Status.APPROVED, is_on_shelf=True)


class Product(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        PENDING = "pending", _("Pending review")
        APPROVED = "approved", _("Approved")
        REJECTED = "rejected", _("Rejected")

    class ReviewCause(models.TextChoices):
        """Why a product waits in the review queue."""

        SUBMITTED = "submitted", _("Submitted for review")
        CHANGED = "changed", _("Changed after approval")
        UPSTREAM = "upstream", _("Found at a supplier")

    category = models.ForeignKey(
        Category, on_delete=models.PROTECT, related_name="products", verbose_name=_("category")
    )
    title = models.CharField(_("title"), max_length=120)
    # Search finds a product by its brand and keywords as well as its title and category (腾讯, Q币, 点券).
    brand = models.CharField(_("brand"), max_length=40, blank=True)
    keywords = models.CharField(
        _("search keywords"),
        max_length=200,
        blank=True,
        help_text=_("Other words shoppers search for, separated by spaces."),
    )
    description = models.TextField(_("description"), blank=True)
    instructions = models.TextField(
        _("how to redeem"),
        blank=True,
        help_text=_("Shown to the buyer beside the delivered codes: where and how to redeem them."),
    )
    image = models.ImageField(_("image"), upload_to="products/", blank=True)
    min_per_order = models.PositiveIntegerField(_("minimum per order"), default=1)
    max_per_order = models.PositiveIntegerField(_("maximum per order"), default=10)
    status = models.CharField(_("moderation status"), max_length=16, choices=Status.choices, default=Status.DRAFT)
    rejection_reason = models.CharField(_("rejection reason"), max_length=200, blank=True)
    # Who sent the product to review and why: the queue lists it by age, the submitter hears the decision.
    review_cause = models.CharField(_("in review because"), max_length=16, choices=ReviewCause.choices, blank=True)
    review_changes = models.JSONField(_("changed fields"), default=list, blank=True, editable=False)
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
        verbose_name=_("submitted by"),
    )
    submitted_at = models.DateTimeField(_("submitted"), null=True, blank=True, editable=False)
    is_on_shelf = models.BooleanField(_("on shelf"), default=False)
    is_hot = models.BooleanField(_("hot"), default=False)
    sort_order = models.IntegerField(_("sort order"), default=0)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)
    # What search reads (catalog/search.py): the terms of the title, of brand and keywords, of the description.
    search_title = models.TextField(blank=True, default="", editable=False)
    search_keywords = models.TextField(blank=True, default="", editable=False)
    search_body = models.TextField(blank=True, default="", editable=False)

    objects = ProductQuerySet.as_manager()

    class Meta:
        verbose_name = _("product")
        verbose_name_plural = _("products")
        ordering = ["sort_order", "-id"]
        permissions = [("approve_product", _("Can approve or reject products"))]
        indexes = [
            # Listings filter on visibility (and category) and sort by sort_order, newest first.
            models.Index(fields=["status", "is_on_shelf", "category", "sort_order", "-id"], name="product_listing"),
            models.Index(fields=["status", "is_on_shelf", "sort_order", "-id"], name="product_latest"),
            models.Index(fields=["status", "is_on_shelf", "is_hot"], name="product_hot"),
            # PostgreSQL only (the migration skips it elsewhere): full-text search over the terms.
            PostgreSQLGinIndex(search.VECTOR, name="product_search"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(min_per_order__gte=1, max_per_order__gte=models.F("min_per_order")),
                name="product_purchase_limits",
            ),
        ]

    def __str__(self) -> str:
        return self.title

    def save(self, *args, **kwargs) -> None:
        search.fill(self)
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and set(update_fields) & set(search.SOURCE_FIELDS):
            kwargs["update_fields"] = {*update_fields, *search.FIELDS}
        super().save(*args, **kwargs)

    def get_absolute_url(self) -> str:
        # The product page is where checkout starts, so the orders app serves it.
        return reverse("orders:product", args=[self.pk])

    @property
    def is_visible(self) -> bool:
        return self.status == self.Status.APPROVED and self.is_on_shelf


class ReviewQueueProduct(Product):
    """Products waiting for a moderator's decision, oldest first (catalog.moderation_admin)."""

    class Meta:
        proxy = True
        verbose_name = _("product awaiting review")
        verbose_name_plural = _("review queue")


class ProhibitedRule(models.Model):
    """One rule of the prohibited-goods policy (禁售规则): a product that hits it cannot be approved.

    A keyword rule hits a product whose title, brand, search keywords, description, SKU names or
    category name contain one of its words; a category rule hits every product in its category (or
    under it). `catalog.policy` does the matching.
    """

    class Kind(models.TextChoices):
        KEYWORD = "keyword", _("Keywords")
        CATEGORY = "category", _("Category")

    name = models.CharField(_("rule"), max_length=60, help_text=_("Named in the refusal, e.g. 虚拟货币."))
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices, default=Kind.KEYWORD)
    keywords = models.TextField(
        _("keywords"),
        blank=True,
        help_text=_(
            "One per line (or separated by commas). Case does not matter; a word in Latin letters only "
            "matches as a whole word, so ETH does not hit “method”."
        ),
    )
    category = models.ForeignKey(
        Category,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="prohibited_rules",
        verbose_name=_("category"),
    )
    reason = models.CharField(_("why it is prohibited"), max_length=200, blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("prohibited-goods rule")
        verbose_name_plural = _("prohibited-goods rules")
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        from django.core.exceptions import ValidationError

        if self.kind == self.Kind.KEYWORD and not self.words:
            raise ValidationError({"keywords": _("A keyword rule needs at least one keyword.")})
        if self.kind == self.Kind.CATEGORY and not self.category_id:
            raise ValidationError({"category": _("A category rule needs its category.")})

    @property
    def words(self) -> list[str]:
        return [word.strip() for word in re.split(r"[\n,，、;；]+", self.keywords) if word.strip()]


class Sku(models.Model):
    """One buyable spec of a product (「100元面值」, 「月卡」) with its retail price and delivery kind."""

    class DeliveryKind(models.TextChoices):
        CARD_CODES = "card", _("Card codes from stock")
        MANUAL = "manual", _("Manual delivery by staff")
        UPSTREAM = "upstream", _("Bought from an upstream supplier")

    class Routing(models.TextChoices):
        PRIORITY = "priority", _("By supplier priority")
        CHEAPEST = "cheapest", _("Cheapest in stock first")

    class PriceRule(models.TextChoices):
        FIXED = "fixed", _("Fixed: the retail price as entered")
        COST_PLUS = "cost_plus", _("Cost plus a fixed margin (yuan)")
        COST_PERCENT = "cost_percent", _("Cost plus a margin in per cent")

    class PriceStep(models.TextChoices):
        FEN = "0.01", _("to the fen")
        JIAO = "0.10", _("up to 0.1 yuan")
        YUAN = "1.00", _("up to 1 yuan")

    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="skus", verbose_name=_("product"))
    name = models.CharField(_("spec"), max_length=60)
    price = MoneyField(_("retail price"), max_digits=12, decimal_places=2, default_currency="CNY")
    delivery_kind = models.CharField(
        _("delivery"), max_length=16, choices=DeliveryKind.choices, default=DeliveryKind.CARD_CODES
    )
    is_active = models.BooleanField(_("active"), default=True)
    sort_order = models.IntegerField(_("sort order"), default=0)
    cost = MoneyField(
        _("known cost"),
        max_digits=12,
        decimal_places=2,
        default_currency="CNY",
        null=True,
        blank=True,
        help_text=_("What one piece costs the shop (成本价); staff are warned when a price is set below it."),
    )
    low_stock_at = models.PositiveIntegerField(
        _("low-stock alert at"),
        null=True,
        blank=True,
        help_text=_("Staff are alerted when this few free codes are left; empty: no alert."),
    )
    daily_limit_per_buyer = models.PositiveIntegerField(
        _("daily limit per buyer"),
        null=True,
        validators=[MinValueValidator(1)],
        blank=True,
        help_text=_("At most this many pieces per buyer per day (Beijing time); empty: no limit."),
    )
    # Upstream Skus (catalog.supply): which supplier is asked first, and the price template the
    # supplier sync applies to the cost it reads.
    routing = models.CharField(_("supplier routing"), max_length=16, choices=Routing.choices, default=Routing.PRIORITY)
    price_rule = models.CharField(
        _("price template"), max_length=16, choices=PriceRule.choices, default=PriceRule.FIXED
    )
    margin = models.DecimalField(
        _("margin"),
        max_digits=10,
        decimal_places=2,
        default=0,
        help_text=_("Yuan or per cent over cost, as the price template says."),
    )
    price_step = models.CharField(_("rounding"), max_length=8, choices=PriceStep.choices, default=PriceStep.JIAO)
    # What the mapped suppliers can sell now, summed by the sync: the stock shown for an upstream Sku.
    upstream_stock = models.PositiveIntegerField(_("upstream stock"), default=0, editable=False)
    # Set when the sync took the Sku off sale (its cost rose above a selling price); cleared when it is back.
    halted_reason = models.CharField(_("taken off sale because"), max_length=200, blank=True, editable=False)

    class Meta:
        verbose_name = _("SKU")
        verbose_name_plural = _("SKUs")
        ordering = ["sort_order", "id"]
        constraints = [models.CheckConstraint(condition=models.Q(price__gt=0), name="sku_price_positive")]

    def __str__(self) -> str:
        return f"{self.product.title} · {self.name}"

    @property
    def is_manual(self) -> bool:
        return self.delivery_kind == self.DeliveryKind.MANUAL

    @property
    def is_upstream(self) -> bool:
        return self.delivery_kind == self.DeliveryKind.UPSTREAM

    @property
    def holds_codes(self) -> bool:
        """Whether orders of this Sku take codes from our own stock (reserved at checkout)."""
        return self.delivery_kind == self.DeliveryKind.CARD_CODES

    def can_supply(self, quantity: int, *, stock: int) -> bool:
        """Whether `quantity` can be sold now with `stock` (free codes, or what the suppliers have);
        staff deliver manual Skus by hand.

        The one rule for "buyable": the product page, its script and checkout all follow it.
        """
        return self.is_manual or stock >= quantity


class WholesaleTier(models.Model):
    """A wholesale price (批发价): from `min_quantity` pieces in one order, each costs `unit_price`."""

    sku = models.ForeignKey(Sku, on_delete=models.CASCADE, related_name="tiers", verbose_name=_("SKU"))
    min_quantity = models.PositiveIntegerField(_("from quantity"))
    unit_price = MoneyField(_("unit price"), max_digits=12, decimal_places=2, default_currency="CNY")

    class Meta:
        verbose_name = _("wholesale price")
        verbose_name_plural = _("wholesale prices")
        ordering = ["min_quantity"]
        constraints = [
            models.UniqueConstraint(fields=["sku", "min_quantity"], name="wholesale_tier_unique_quantity"),
            models.CheckConstraint(
                condition=models.Q(min_quantity__gte=2),
                name="wholesale_tier_from_two",
                violation_error_message=_("A wholesale price starts from 2 pieces or more."),
            ),
            models.CheckConstraint(
                condition=models.Q(unit_price__gt=0),
                name="wholesale_tier_price_positive",
                violation_error_message=_("A wholesale price must be above zero."),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.sku} ≥ {self.min_quantity}"


class LevelPrice(models.Model):
    """A fixed unit price of a SKU for one member level (代理价), in place of the level's discount."""

    sku = models.ForeignKey(Sku, on_delete=models.CASCADE, related_name="level_prices", verbose_name=_("SKU"))
    level = models.ForeignKey(
        "accounts.MemberLevel", on_delete=models.CASCADE, related_name="sku_prices", verbose_name=_("level")
    )
    unit_price = MoneyField(_("unit price"), max_digits=12, decimal_places=2, default_currency="CNY")

    class Meta:
        verbose_name = _("level price")
        verbose_name_plural = _("level prices")
        constraints = [
            models.UniqueConstraint(fields=["sku", "level"], name="level_price_one_per_level"),
            models.CheckConstraint(
                condition=models.Q(unit_price__gt=0),
                name="level_price_positive",
                violation_error_message=_("A level price must be above zero."),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.sku} · {self.level}"


class BuyerField(models.Model):
    """Something the buyer fills in at checkout (下单附加信息): a game UID, a QQ number, the server.

    The answers are stored on the order, shown to the buyer and to staff, and later handed to an
    upstream supplier for a direct top-up (直充). `catalog.buyer_fields` validates them.
    """

    class Kind(models.TextChoices):
        TEXT = "text", _("Text")
        NUMBER = "number", _("Number")
        PHONE = "phone", _("Mobile number")
        QQ = "qq", _("QQ number")
        GAME_ACCOUNT = "game_account", _("Game account")
        CHOICE = "choice", _("Server / region choice")

    product = models.ForeignKey(
        Product, on_delete=models.CASCADE, related_name="buyer_fields", verbose_name=_("product")
    )
    label = models.CharField(_("label"), max_length=30)
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices, default=Kind.TEXT)
    required = models.BooleanField(_("required"), default=True)
    pattern = models.CharField(
        _("validation pattern"),
        max_length=200,
        blank=True,
        help_text=_("A regular expression the whole answer must match, e.g. [1-9][0-9]{8} for a 9-digit UID."),
    )
    choices = models.TextField(_("choices"), blank=True, help_text=_("For a choice: one option per line."))
    help_text = models.CharField(_("hint"), max_length=100, blank=True)
    sort_order = models.IntegerField(_("sort order"), default=0)

    class Meta:
        verbose_name = _("buyer input field")
        verbose_name_plural = _("buyer input fields")
        ordering = ["sort_order", "id"]

    def __str__(self) -> str:
        return self.label

    @property
    def options(self) -> list[str]:
        return [line.strip() for line in self.choices.splitlines() if line.strip()]

    def clean(self) -> None:
        from django.core.exceptions import ValidationError

        from .buyer_fields import check_pattern

        if self.kind == self.Kind.CHOICE and not self.options:
            raise ValidationError({"choices": _("A choice needs at least one option.")})
        if self.pattern:
            check_pattern(self.pattern)


class CardCode(models.Model):
    """One 卡密: its secret (and optional card number) encrypted at rest, sold at most once."""

    class Status(models.TextChoices):
        AVAILABLE = "available", _("Available")
        RESERVED = "reserved", _("Reserved")
        SOLD = "sold", _("Sold")
        VOID = "void", _("Void")

    sku = models.ForeignKey(Sku, on_delete=models.PROTECT, related_name="codes", verbose_name=_("SKU"))
    card_no_encrypted = models.TextField(blank=True)
    secret_encrypted = models.TextField()
    fingerprint = models.CharField(max_length=64)
    # Non-secret, so staff can tell masked codes apart: the card number's last two characters, or
    # the import batch and the code's line in it.
    card_no_tail = models.CharField(max_length=2, blank=True, editable=False)
    batch = models.CharField(_("import batch"), max_length=16, blank=True, editable=False)
    position = models.PositiveIntegerField(_("line"), default=0, editable=False)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.AVAILABLE)
    order = models.ForeignKey(
        "orders.Order", null=True, blank=True, on_delete=models.PROTECT, related_name="codes", verbose_name=_("order")
    )
    reserved_until = models.DateTimeField(_("reserved until"), null=True, blank=True)
    created_at = models.DateTimeField(_("imported"), auto_now_add=True)
    sold_at = models.DateTimeField(_("sold"), null=True, blank=True)

    class Meta:
        verbose_name = _("card code")
        verbose_name_plural = _("card codes")
        permissions = [("reveal_cardcode", _("Can reveal card codes"))]
        indexes = [models.Index(fields=["sku", "status", "id"], name="cardcode_stock")]
        constraints = [
            models.UniqueConstraint(fields=["sku", "fingerprint"], name="cardcode_unique_per_sku"),
            # A code held by an order (reserved or sold) names that order; a free one names none.
            models.CheckConstraint(
                condition=(
                    models.Q(status__in=["reserved", "sold"], order__isnull=False)
                    | models.Q(status="available", order__isnull=True)
                    | models.Q(status="void")
                ),
                name="cardcode_order_matches_status",
            ),
        ]

    def __str__(self) -> str:
        return _("Card code #%(id)s") % {"id": self.pk}

    @property
    def secret(self) -> str:
        return crypto.decrypt(self.secret_encrypted)

    @property
    def hint(self) -> str:
        """What staff see of a masked code: never any part of its secret."""
        if self.card_no_tail:
            return _("card no. …%(tail)s") % {"tail": self.card_no_tail}
        if self.batch:
            return _("batch %(batch)s, line %(line)s") % {"batch": self.batch, "line": self.position}
        return f"#{self.pk}"

    @property
    def card_no(self) -> str:
        return crypto.decrypt(self.card_no_encrypted) if self.card_no_encrypted else ""


class CardCodeReveal(models.Model):
    """Audit row: a staff member saw a code in plaintext."""

    code = models.ForeignKey(CardCode, on_delete=models.PROTECT, related_name="reveals", verbose_name=_("card code"))
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("revealed by")
    )
    ip = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    created_at = models.DateTimeField(_("time"), auto_now_add=True)

    class Meta:
        verbose_name = _("card code reveal")
        verbose_name_plural = _("card code reveals")
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.user} → #{self.code_id}"


class Supplier(models.Model):
    """An upstream supplier (上游货源) the shop buys from by API, through one adapter (catalog.suppliers)."""

    name = models.CharField(_("name"), max_length=60)
    adapter = models.CharField(_("adapter"), max_length=16)
    base_url = models.URLField(_("API address"), max_length=300)
    account = models.CharField(_("account / app key"), max_length=120)
    secret_encrypted = models.TextField(editable=False)
    options = models.JSONField(_("options"), default=dict, blank=True)
    enabled = models.BooleanField(_("enabled"), default=True)
    priority = models.IntegerField(_("priority"), default=10, help_text=_("Lower numbers are asked first."))
    timeout_seconds = models.PositiveSmallIntegerField(_("timeout (s)"), default=10)
    category = models.ForeignKey(
        Category,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("category for new products"),
        help_text=_("Products newly found at this supplier arrive here, pending review."),
    )
    balance = MoneyField(
        _("balance at the supplier"), max_digits=14, decimal_places=2, default_currency="CNY", null=True, blank=True
    )
    synced_at = models.DateTimeField(_("last synced"), null=True, blank=True)
    sync_error = models.CharField(_("last sync error"), max_length=300, blank=True)

    class Meta:
        verbose_name = _("supplier")
        verbose_name_plural = _("suppliers")
        ordering = ["priority", "id"]

    def __str__(self) -> str:
        return self.name

    @property
    def secret(self) -> str:
        return crypto.decrypt(self.secret_encrypted) if self.secret_encrypted else ""

    def config(self):
        from .suppliers.base import SupplierConfig

        callback = settings.SITE_URL + reverse("suppliers:notify", args=[self.pk])
        return SupplierConfig(
            base_url=self.base_url,
            account=self.account,
            secret=self.secret,
            options=self.options or {},
            timeout=float(self.timeout_seconds),
            callback_url=callback,
        )


class SupplierProduct(models.Model):
    """One product of a supplier as the sync last read it, and the Sku of ours it supplies."""

    supplier = models.ForeignKey(
        Supplier, on_delete=models.CASCADE, related_name="products", verbose_name=_("supplier")
    )
    sku = models.ForeignKey(
        Sku, null=True, blank=True, on_delete=models.SET_NULL, related_name="supplies", verbose_name=_("our SKU")
    )
    code = models.CharField(_("supplier's product id"), max_length=64)
    name = models.CharField(_("name at the supplier"), max_length=200, blank=True)
    kind = models.CharField(_("kind"), max_length=8, default="card", editable=False)
    cost = MoneyField(_("cost price"), max_digits=12, decimal_places=2, default_currency="CNY")
    # None: the supplier does not say (sells without a limit).
    stock = models.PositiveIntegerField(_("stock at the supplier"), null=True, blank=True)
    available = models.BooleanField(_("on sale at the supplier"), default=True)
    priority = models.IntegerField(
        _("priority"), default=0, help_text=_("Among this SKU's suppliers, lower is asked first; then the supplier's.")
    )
    synced_at = models.DateTimeField(_("synced"), null=True, blank=True)

    class Meta:
        verbose_name = _("supplier product")
        verbose_name_plural = _("supplier products")
        ordering = ["priority", "supplier__priority", "id"]
        constraints = [
            models.UniqueConstraint(fields=["supplier", "code"], name="supplier_product_unique_code"),
            models.CheckConstraint(condition=models.Q(cost__gte=0), name="supplier_product_cost_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.supplier} · {self.name or self.code}"
