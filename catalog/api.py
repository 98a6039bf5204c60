"""/api/v1/products: what a reseller's program may buy, at the caller's own price, with its stock."""

from django.db.models import Prefetch
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers

from accounts.api import ApiView
from kamen.api import Pages

from .buyer_fields import field_name
from .models import BuyerField, LevelPrice, Product, Sku
from .pricing import viewer_unit_price
from .selectors import stock_count

LOW_STOCK = 10


def availability(sku: Sku) -> str:
    if sku.is_manual:
        return "on_request"
    if sku.stock <= 0:
        return "out_of_stock"
    return "low" if sku.stock <= LOW_STOCK else "in_stock"


class BuyerFieldSerializer(serializers.ModelSerializer):
    name = serializers.SerializerMethodField(help_text="The key of this answer in an order's buyer_input.")
    choices = serializers.ListField(source="options", child=serializers.CharField())

    class Meta:
        model = BuyerField
        fields = ["name", "label", "kind", "required", "pattern", "choices", "help_text"]

    def get_name(self, field: BuyerField) -> str:
        return field_name(field)


class SkuSerializer(serializers.ModelSerializer):
    retail_price = serializers.DecimalField(source="price.amount", max_digits=12, decimal_places=2)
    price = serializers.SerializerMethodField(help_text="What one piece costs the caller, at their member level.")
    delivery = serializers.CharField(source="delivery_kind")
    stock = serializers.SerializerMethodField(help_text="Pieces buyable now; null when staff deliver by hand.")
    availability = serializers.SerializerMethodField()

    class Meta:
        model = Sku
        fields = ["id", "name", "retail_price", "price", "delivery", "stock", "availability"]

    def get_price(self, sku: Sku) -> str:
        return f"{viewer_unit_price(sku, self.context['level']).amount:.2f}"

    def get_stock(self, sku: Sku) -> int | None:
        return None if sku.is_manual else sku.stock

    def get_availability(self, sku: Sku) -> str:
        return availability(sku)


class ProductSerializer(serializers.ModelSerializer):
    category = serializers.CharField(source="category.name")
    skus = SkuSerializer(many=True, source="active_skus")
    buyer_fields = BuyerFieldSerializer(many=True, source="input_fields")

    class Meta:
        model = Product
        fields = [
            "id",
            "title",
            "category",
            "brand",
            "description",
            "instructions",
            "min_per_order",
            "max_per_order",
            "skus",
            "buyer_fields",
        ]


def api_products(level):
    """Visible products with their active Skus (stock counted, the level's prices fetched) and input fields."""
    skus = Sku.objects.filter(is_active=True).annotate(stock=stock_count()).order_by("sort_order", "id")
    if level is not None:
        skus = skus.prefetch_related(Prefetch("level_prices", queryset=LevelPrice.objects.filter(level=level)))
    return (
        Product.objects.visible()
        .select_related("category")
        .prefetch_related(
            Prefetch("skus", queryset=skus, to_attr="active_skus"),
            Prefetch("buyer_fields", queryset=BuyerField.objects.order_by("sort_order", "id"), to_attr="input_fields"),
        )
        .order_by("sort_order", "-id")
    )


class ProductViews(ApiView):
    serializer_class = ProductSerializer

    def get_queryset(self):
        return api_products(self.request.user.level)

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "level": self.request.user.level}


@extend_schema(summary="Products you can buy, at your price")
class ProductList(ProductViews, generics.ListAPIView):
    pagination_class = Pages


@extend_schema(summary="One product")
class ProductDetail(ProductViews, generics.RetrieveAPIView):
    lookup_url_kwarg = "product_id"
