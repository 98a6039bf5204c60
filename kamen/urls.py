from django.conf import settings
from django.contrib import admin
from django.urls import include, path, re_path
from django.views.static import serve

from kamen.health import health

handler400 = "kamen.views.bad_request"

urlpatterns = [
    path("health/", health, name="health"),
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("accounts/", include("allauth.urls")),
    path("", include("orders.urls")),
    path("", include("accounts.urls")),
    path("payments/", include("payments.urls")),
    path("api/v1/", include("kamen.api_urls")),
    path("suppliers/", include("orders.supplier_urls")),
    path("", include("kamen.page_urls")),
    path("", include("distribution.urls")),
    path("", include("catalog.urls")),
]

if settings.SERVE_MEDIA:
    # Staff-uploaded product images for the embedded run; a deployment serves MEDIA_ROOT from its web server.
    media_prefix = settings.MEDIA_URL.strip("/")
    urlpatterns += [re_path(rf"^{media_prefix}/(?P<path>.*)$", serve, {"document_root": settings.MEDIA_ROOT})]

# The shop's own error pages, in its language and layout; with DEBUG on, Django's technical pages.
handler400 = "kamen.views.bad_request"
handler403 = "kamen.views.permission_denied"
handler404 = "kamen.views.page_not_found"
handler500 = "kamen.views.server_error"
