from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from djmoney.models.fields import MoneyField

from . import crypto


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

    category = models.ForeignKey(
        Category, on_delete=models.PROTECT, related_name="products", verbose_name=_("category")
    )
    title = models.CharField(_("title"), max_length=120)
    description = models.TextField(_("description"), blank=True)
    image = models.ImageField(_("image"), upload_to="products/", blank=True)
    min_per_order = models.PositiveIntegerField(_("minimum per order"), default=1)
    max_per_order = models.PositiveIntegerField(_("maximum per order"), default=10)
    status = models.CharField(_("moderation status"), max_length=16, choices=Status.choices, default=Status.DRAFT)
    rejection_reason = models.CharField(_("rejection reason"), max_length=200, blank=True)
    is_on_shelf = models.BooleanField(_("on shelf"), default=False)
    is_hot = models.BooleanField(_("hot"), default=False)
    sort_order = models.IntegerField(_("sort order"), default=0)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    objects = ProductQuerySet.as_manager()

    class Meta:
        verbose_name = _("product")
        verbose_name_plural = _("products")
        ordering = ["sort_order", "-id"]
        indexes = [
            # Listings filter on visibility (and category) and sort by sort_order, newest first.
            models.Index(fields=["status", "is_on_shelf", "category", "sort_order", "-id"], name="product_listing"),
            models.Index(fields=["status", "is_on_shelf", "sort_order", "-id"], name="product_latest"),
            models.Index(fields=["status", "is_on_shelf", "is_hot"], name="product_hot"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(min_per_order__gte=1, max_per_order__gte=models.F("min_per_order")),
                name="product_purchase_limits",
            ),
        ]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        # The product page is where checkout starts, so the orders app serves it.
        return reverse("orders:product", args=[self.pk])

    @property
    def is_visible(self) -> bool:
        return self.status == self.Status.APPROVED and self.is_on_shelf


class Sku(models.Model):
    """One buyable spec of a product (「100元面值」, 「月卡」) with its retail price and delivery kind."""

    class DeliveryKind(models.TextChoices):
        CARD_CODES = "card", _("Card codes from stock")
        MANUAL = "manual", _("Manual delivery by staff")
        # Upstream supplier delivery arrives with the supplier adapters.

    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="skus", verbose_name=_("product"))
    name = models.CharField(_("spec"), max_length=60)
    price = MoneyField(_("retail price"), max_digits=12, decimal_places=2, default_currency="CNY")
    delivery_kind = models.CharField(
        _("delivery"), max_length=16, choices=DeliveryKind.choices, default=DeliveryKind.CARD_CODES
    )
    is_active = models.BooleanField(_("active"), default=True)
    sort_order = models.IntegerField(_("sort order"), default=0)

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

    def can_supply(self, quantity: int, *, stock: int) -> bool:
        """Whether `quantity` can be sold now with `stock` free codes; staff deliver manual Skus by hand.

        The one rule for "buyable": the product page, its script and checkout all follow it.
        """
        return self.is_manual or stock >= quantity


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
    def card_no(self) -> str:
        return crypto.decrypt(self.card_no_encrypted) if self.card_no_encrypted else ""


class CardCodeReveal(models.Model):
    """Audit row: a staff member saw a code in plaintext."""

    code = models.ForeignKey(CardCode, on_delete=models.PROTECT, related_name="reveals")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    ip = models.GenericIPAddressField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("card code reveal")
        verbose_name_plural = _("card code reveals")
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.user} → #{self.code_id}"
