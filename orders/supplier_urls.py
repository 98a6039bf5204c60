from django.urls import path

from .supplier_views import supplier_notify

app_name = "suppliers"

urlpatterns = [path("<int:supplier_id>/notify/", supplier_notify, name="notify")]
