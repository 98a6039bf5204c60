from django.urls import path

from . import views

app_name = "orders"

urlpatterns = [
    path("new/", views.place, name="place"),
    path("lookup/", views.lookup, name="lookup"),
    path("mine/", views.mine, name="mine"),
    path("<str:number>/", views.detail, name="detail"),
    path("<str:number>/status/", views.status, name="status"),
    path("<str:number>/cancel/", views.cancel, name="cancel"),
    path("<str:number>/refund/", views.request_refund, name="request_refund"),
    path("<str:number>/<str:token>/", views.secret_link, name="secret"),
]
