"""The shop's URLs plus views that fail on purpose, to see the error pages a shopper would get."""

from django.core.exceptions import PermissionDenied, SuspiciousOperation
from django.urls import path

from kamen import urls as shop

# Whatever error pages the shop's URLconf names (None: Django's own).
handler400, handler403, handler404, handler500 = (getattr(shop, f"handler{n}", None) for n in (400, 403, 404, 500))


def crash(request):
    raise RuntimeError("secret detail that must not reach the shopper")


def deny(request):
    raise PermissionDenied


def refuse(request):
    raise SuspiciousOperation("malformed")


urlpatterns = [path("crash/", crash), path("deny/", deny), path("refuse/", refuse), *shop.urlpatterns]
