"""/api/v1/orders: orders a reseller's program places and reads. Thin: a serializer validates, a
service acts, a selector finds only the caller's own orders."""

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import RegexValidator
from django.db.models import Prefetch
from django.http import Http404
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import generics, serializers, status
from rest_framework.response import Response

from accounts.api import ApiView
from catalog.buyer_fields import field_name
from catalog.models import CardCode, Sku
from catalog.selectors import get_buyable_sku
from kamen.api import ApiProblem, Pages
from kamen.http import client_ip_or_none

from .models import Order
from .services import CheckoutError, OutOfStock
from .services.api_orders import DuplicateOrder, NotEnoughBalance, place_api_order

CLIENT_ORDER_NO = RegexValidator(r"^[A-Za-z0-9_.:-]{1,64}$", "Use 1 to 64 of A-Z a-z 0-9 _ . : -")


class OrderRequest(serializers.Serializer):
    sku = serializers.IntegerField(min_value=1, max_value=2**31 - 1)
    quantity = serializers.IntegerField(min_value=1, max_value=10000)
    client_order_no = serializers.CharField(
        max_length=64, validators=[CLIENT_ORDER_NO], help_text="Your own order number: one order per number."
    )
    callback_url = serializers.CharField(
        max_length=500, required=False, allow_blank=True, help_text="Told by a signed POST when the order ends."
    )
    buyer_input = serializers.DictField(
        child=serializers.CharField(max_length=64, allow_blank=True),
        required=False,
        help_text="Answers to the product's buyer_fields, keyed by their name or their label.",
    )


class CodeSerializer(serializers.Serializer):
    card_no = serializers.CharField()
    secret = serializers.CharField()


class OrderSerializer(serializers.ModelSerializer):
    sku = serializers.IntegerField(source="sku_id")
    unit_price = serializers.DecimalField(source="unit_price.amount", max_digits=12, decimal_places=2)
    total = serializers.DecimalField(source="total.amount", max_digits=14, decimal_places=2)
    codes = serializers.SerializerMethodField()
    delivery_note = serializers.SerializerMethodField(help_text="What staff delivered by hand, if they did.")

    class Meta:
        model = Order
        fields = [
            "number",
            "client_order_no",
            "status",
            "refund_status",
            "sku",
            "product_title",
            "sku_name",
            "quantity",
            "unit_price",
            "total",
            "created_at",
            "paid_at",
            "delivered_at",
            "codes",
            "delivery_note",
        ]

    @extend_schema_field(CodeSerializer(many=True))
    def get_codes(self, order: Order) -> list[dict]:
        if order.status != Order.Status.DELIVERED:
            return []
        codes = order.sold_codes  # prefetched by own_orders
        return [{"card_no": code.card_no, "secret": code.secret} for code in codes]

    def get_delivery_note(self, order: Order) -> str:
        return order.manual_delivery if order.status == Order.Status.DELIVERED else ""


def own_orders(user):
    """The caller's orders, with their sold codes in one query for a whole page."""
    sold = CardCode.objects.filter(status=CardCode.Status.SOLD).order_by("id")
    return Order.objects.filter(user=user).prefetch_related(Prefetch("codes", queryset=sold, to_attr="sold_codes"))


class OrderList(ApiView, generics.ListAPIView):
    serializer_class = OrderSerializer
    pagination_class = Pages

    def get_queryset(self):
        return own_orders(self.request.user).exclude(client_order_no="")

    @extend_schema(summary="Your orders placed through the API, newest first")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        summary="Place an order, paid from your wallet",
        request=OrderRequest,
        responses={
            201: OrderSerializer,
            200: OpenApiResponse(OrderSerializer, description="The order this client_order_no placed before."),
        },
    )
    def post(self, request):
        given = OrderRequest(data=request.data)
        given.is_valid(raise_exception=True)
        data = given.validated_data
        sku = _buyable_sku(data["sku"])
        try:
            placed = place_api_order(
                sku,
                key=request.auth,
                quantity=data["quantity"],
                client_order_no=data["client_order_no"],
                callback_url=data.get("callback_url", ""),
                buyer_input=_answers_by_name(sku, data.get("buyer_input") or {}),
                buyer_ip=client_ip_or_none(request),
            )
        except OutOfStock as refused:
            raise ApiProblem("OUT_OF_STOCK", str(refused), status_code=status.HTTP_409_CONFLICT) from None
        except CheckoutError as refused:
            raise ApiProblem("ORDER_REFUSED", str(refused)) from None
        except NotEnoughBalance as refused:
            raise ApiProblem(
                "INSUFFICIENT_BALANCE", str(refused), status_code=status.HTTP_402_PAYMENT_REQUIRED
            ) from None
        except DuplicateOrder as refused:
            raise ApiProblem("DUPLICATE_ORDER", str(refused), status_code=status.HTTP_409_CONFLICT) from None
        except DjangoValidationError as error:
            raise serializers.ValidationError(error.message_dict) from None
        answer = status.HTTP_201_CREATED if placed.created else status.HTTP_200_OK
        order = own_orders(request.user).get(pk=placed.order.pk)
        return Response(OrderSerializer(order).data, status=answer)


def _answers_by_name(sku: Sku, answers: dict[str, str]) -> dict[str, str]:
    """Answers may be keyed by a field's name (input_12) or by its label (游戏账号), as another
    kamen shop sends them."""
    names = {field.label: field_name(field) for field in sku.product.buyer_fields.all()}
    return {names.get(key, key): value for key, value in answers.items()}


def _buyable_sku(sku_id: int) -> Sku:
    try:
        return get_buyable_sku(sku_id)
    except Http404:
        raise ApiProblem("NOT_FOUND", "No such SKU on sale.", status_code=status.HTTP_404_NOT_FOUND) from None


@extend_schema(summary="One of your orders, by our order number")
class OrderDetail(ApiView, generics.RetrieveAPIView):
    serializer_class = OrderSerializer
    lookup_field = "number"

    def get_queryset(self):
        return own_orders(self.request.user)


class OrderByClientNumber(ApiView, generics.RetrieveAPIView):
    serializer_class = OrderSerializer

    def get_queryset(self):
        return own_orders(self.request.user)

    def get_object(self):
        number = self.request.query_params.get("client_order_no", "")
        return generics.get_object_or_404(self.get_queryset(), client_order_no=number[:64] or None)

    @extend_schema(
        summary="One of your orders, by your own order number",
        parameters=[OpenApiParameter("client_order_no", str, required=True)],
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)
