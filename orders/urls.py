from django.urls import path

from . import coupon_views, developer_views, level_views, points_views, views

app_name = "orders"

urlpatterns = [
    path("p/<int:pk>/", views.product, name="product"),
    path("orders/new/", views.place, name="place"),
    path("orders/price/", views.price_preview, name="price_preview"),
    path("orders/lookup/", views.lookup, name="lookup"),
    path("orders/mine/", views.mine, name="mine"),
    path("levels/", level_views.levels, name="levels"),
    path("coupons/", coupon_views.my_coupons, name="coupons"),
    path("points/", points_views.points_page, name="points"),
    path("points/check-in/", points_views.check_in, name="check_in"),
    path("points/rewards/<int:pk>/redeem/", points_views.redeem, name="redeem"),
    path("levels/<int:pk>/buy/", level_views.buy_level, name="buy_level"),
    path("developer/", developer_views.keys, name="developer"),
    path("developer/keys/<int:pk>/revoke/", developer_views.revoke_key, name="developer_revoke"),
    path("developer/keys/<int:pk>/allowed-ips/", developer_views.key_allowed_ips, name="developer_allowed_ips"),
    path("developer/guide/", developer_views.guide, name="developer_guide"),
    path("developer/orders/", developer_views.api_orders, name="developer_orders"),
    path("developer/webhooks/", developer_views.webhooks, name="developer_webhooks"),
    path("developer/webhooks/<int:pk>/resend/", developer_views.resend, name="developer_resend"),
    path("orders/<str:number>/", views.detail, name="detail"),
    path("orders/<str:number>/status/", views.status, name="status"),
    path("orders/<str:number>/cancel/", views.cancel, name="cancel"),
    path("orders/<str:number>/refund/", views.request_refund, name="request_refund"),
    path("orders/<str:number>/<str:token>/", views.secret_link, name="secret"),
]
