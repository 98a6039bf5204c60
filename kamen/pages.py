"""The shop's own pages that staff write in the shop settings: help (常见问题 and after-sales contact),
terms of service (用户协议) and privacy policy (隐私政策). Cached like catalog pages: every page key
holds the settings version, so an edit shows at once."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from . import page_cache, shop_settings


def help_page(request: HttpRequest) -> HttpResponse:
    def page() -> HttpResponse:
        return render(request, "shop/help.html", {"faq": shop_settings.current().faq_entries()})

    return page_cache.serve(request, ("help",), page, members=True)


def terms(request: HttpRequest) -> HttpResponse:
    return _document(request, "terms")


def privacy(request: HttpRequest) -> HttpResponse:
    return _document(request, "privacy")


def _document(request: HttpRequest, name: str) -> HttpResponse:
    def page() -> HttpResponse:
        text = shop_settings.current().text(name)
        return render(request, "shop/document.html", {"document": name, "text": text})

    return page_cache.serve(request, (name,), page, members=True)
