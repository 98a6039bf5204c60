from django.urls import path

from . import views

app_name = "payments"

urlpatterns = [
    path("pay/<str:trade_no>/", views.checkout, name="checkout"),
    path("pay/<str:trade_no>/status/", views.status, name="status"),
    path("sandbox/pay/<str:trade_no>/", views.sandbox_cashier, name="sandbox"),
    path("sandbox/pay/<str:trade_no>/confirm/", views.sandbox_pay, name="sandbox_pay"),
    path("wallet/", views.wallet, name="wallet"),
    path("wallet/top-up/", views.topup, name="topup"),
    path("<slug:provider_code>/notify/", views.notify, name="notify"),
]
