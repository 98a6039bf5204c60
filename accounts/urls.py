from django.urls import path

from . import views

app_name = "accounts"

urlpatterns = [
    path("wallet/", views.wallet, name="wallet"),
    path("wallet/top-up/", views.topup, name="topup"),
]
