import hashlib
from collections.abc import Callable

from django.core.cache import cache
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.utils.safestring import mark_safe

from kamen.parsing import parse_id
from orders.forms import CheckoutForm
from payments.providers import available_providers

from . import selectors
from .cache import FRAGMENT_SECONDS, fragment_key
from .models import Product, Sku

PAGE_SIZE = 20


def home(request: HttpRequest) -> HttpResponse:
    key = fragment_key("home")
    shelves = cache.get(key)
    if shelves is None:
        context = {
            "hot_products": selectors.hot_products(),
            "latest": selectors.with_figures(list(selectors.listing()[:12])),
        }
        shelves = render_to_string("catalog/_home_shelves.html", context, request=request)
        cache.set(key, shelves, FRAGMENT_SECONDS)
    return render(request, "catalog/home.html", {"shelves": mark_safe(shelves)})  # noqa: S308 - our own render


def _results(request: HttpRequest, products: Callable[[], QuerySet], *, scope: str, query: str = "") -> dict:
    """The product grid and pager of one list page, rendered once per stock generation."""
    # Digits only in the cache key: any other text would be a new key for the same first page.
    page_number = str(parse_id(request.GET.get("page")) or 1)
    key = fragment_key("listing", scope, page_number)
    results = cache.get(key)
    if results is None:
        page = Paginator(products(), PAGE_SIZE).get_page(page_number)
        context = {
            "page": page,
            "page_range": page.paginator.get_elided_page_range(page.number, on_each_side=2, on_ends=1),
            "products": selectors.with_figures(list(page.object_list)),
            "query": query,
        }
        html = render_to_string("catalog/_listing_results.html", context, request=request)
        results = {"count": page.paginator.count, "html": html}
        cache.set(key, results, FRAGMENT_SECONDS)
    return {"count": results["count"], "results": mark_safe(results["html"])}  # noqa: S308 - our own render


def category(request: HttpRequest, slug: str) -> HttpResponse:
    current = selectors.get_active_category(slug)
    context = _results(request, lambda: selectors.listing(category=current), scope=f"c{current.pk}")
    return render(request, "catalog/listing.html", {**context, "category": current})


def search(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "").strip()[:60]
    scope = "q" + hashlib.sha256(query.encode()).hexdigest()[:16]
    context = _results(request, lambda: selectors.listing(query=query), scope=scope, query=query)
    return render(request, "catalog/listing.html", {**context, "query": query})


def product(request: HttpRequest, pk: int) -> HttpResponse:
    return render_product(request, selectors.get_visible_product(pk))


def render_product(
    request: HttpRequest,
    product: Product,
    *,
    form: CheckoutForm | None = None,
    selected_sku: Sku | None = None,
    status: int = 200,
) -> HttpResponse:
    """The product page with its checkout form; also re-shown with errors by a refused checkout."""
    user = request.user if request.user.is_authenticated else None
    skus = selectors.skus_with_stock(product)
    if selected_sku is None:
        selected_sku = next((s for s in skus if s.stock > 0 or s.is_manual), skus[0] if skus else None)
    if form is None:
        form = CheckoutForm(
            user=user,
            providers=available_providers(user=user),
            initial={"sku": selected_sku.pk if selected_sku else None, "quantity": product.min_per_order},
        )
    context = {"product": product, "skus": skus, "selected_sku": selected_sku, "form": form}
    return render(request, "catalog/product.html", context, status=status)
