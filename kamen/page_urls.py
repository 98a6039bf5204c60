from django.urls import path

from . import pages

app_name = "shop"

urlpatterns = [
    path("help/", pages.help_page, name="help"),
    path("terms/", pages.terms, name="terms"),
    path("privacy/", pages.privacy, name="privacy"),
]
