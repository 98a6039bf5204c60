import hashlib
from collections.abc import Callable

from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.utils.safestring import mark_safe

from accounts import inbox
from accounts.selectors import level_of
from kamen import page_cache
from kamen.parsing import parse_id

from . import live_stock, selectors
from .cache import cached_fragment, generation

PAGE_SIZE = 20


def home(request: HttpRequest) -> HttpResponse:
    def page() -> HttpResponse:
        level = level_of(request.user)  # grids are cached per member level, never per user

        def shelves() -> str:
            context = {
                "hot_products": selectors.hot_products(level=level),
                "latest": selectors.with_figures(list(selectors.listing()[:12]), level),
            }
            return render_to_string("catalog/_home_shelves.html", context, request=request)

        html = cached_fragment(("home", level.pk if level else 0), shelves)
        context = {"shelves": mark_safe(html), "announcements": inbox.current_announcements()}  # noqa: S308 - ours
        return render(request, "catalog/home.html", context)

    return page_cache.serve(request, ("home", generation()), page, fill=live_stock.fill, members=True)


def _results(request: HttpRequest, products: Callable[[], QuerySet], *, scope: str, query: str = "") -> dict:
    """The product grid and pager of one list page, rendered once per catalog generation."""
    # Digits only in the cache key: any other text would be a new key for the same first page.
    page_number = str(parse_id(request.GET.get("page")) or 1)
    level = level_of(request.user)  # grids are cached per member level, never per user

    def grid() -> dict:
        page = Paginator(products(), PAGE_SIZE).get_page(page_number)
        context = {
            "page": page,
            "page_range": page.paginator.get_elided_page_range(page.number, on_each_side=2, on_ends=1),
            "products": selectors.with_figures(list(page.object_list), level),
            "query": query,
        }
        html = render_to_string("catalog/_listing_results.html", context, request=request)
        return {"count": page.paginator.count, "html": html}

    results = cached_fragment(("listing", scope, page_number, level.pk if level else 0), grid)
    return {"count": results["count"], "results": mark_safe(results["html"])}  # noqa: S308 - our own render


def category(request: HttpRequest, slug: str) -> HttpResponse:
    def page() -> HttpResponse:
        current = selectors.get_active_category(slug)
        context = _results(request, lambda: selectors.listing(category=current), scope=f"c{current.pk}")
        return render(request, "catalog/listing.html", {**context, "category": current})

    return page_cache.serve(
        request, ("c", generation()), page, query_names=("page",), fill=live_stock.fill, members=True
    )


def search(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "").strip()[:60]

    def page() -> HttpResponse:
        scope = "q" + hashlib.sha256(query.encode()).hexdigest()[:16]
        context = _results(request, lambda: selectors.listing(query=query), scope=scope, query=query)
        return render(request, "catalog/listing.html", {**context, "query": query})

    return page_cache.serve(
        request, ("q", generation()), page, query_names=("q", "page"), fill=live_stock.fill, members=True
    )
