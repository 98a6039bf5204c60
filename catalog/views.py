from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from orders.forms import CheckoutForm
from payments.providers import available_providers

from . import selectors
from .models import Product, Sku

PAGE_SIZE = 20


def home(request: HttpRequest) -> HttpResponse:
    latest = selectors.with_figures(list(selectors.listing()[:12]))
    return render(request, "catalog/home.html", {"hot_products": selectors.hot_products(), "latest": latest})


def _listing_page(request: HttpRequest, products) -> dict:
    page = Paginator(products, PAGE_SIZE).get_page(request.GET.get("page"))
    return {"page": page, "products": selectors.with_figures(list(page.object_list))}


def category(request: HttpRequest, slug: str) -> HttpResponse:
    current = selectors.get_active_category(slug)
    context = _listing_page(request, selectors.listing(category=current))
    return render(request, "catalog/listing.html", {**context, "category": current})


def search(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "").strip()[:60]
    context = _listing_page(request, selectors.listing(query=query))
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
