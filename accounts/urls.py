from django.urls import path

from . import views

app_name = "accounts"

urlpatterns = [
    path("messages/", views.message_centre, name="messages"),
    path("messages/read/", views.mark_read, name="mark_read"),
    path("messages/email/", views.email_preferences, name="email_preferences"),
]
