"""/api/v1/: the downstream JSON API, its OpenAPI schema and its docs page."""

from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from accounts.api import BalanceView
from catalog.api import ProductDetail, ProductList
from orders.api import OrderByClientNumber, OrderDetail, OrderList

app_name = "api"

urlpatterns = [
    path("products/", ProductList.as_view(), name="products"),
    path("products/<int:product_id>/", ProductDetail.as_view(), name="product"),
    path("orders/", OrderList.as_view(), name="orders"),
    path("orders/by-client-no/", OrderByClientNumber.as_view(), name="order_by_client_no"),
    path("orders/<str:number>/", OrderDetail.as_view(), name="order"),
    path("balance/", BalanceView.as_view(), name="balance"),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api:schema"), name="docs"),
]
