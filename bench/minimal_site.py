"""The practical limit the catalog benchmark compares kamen with: a minimal Django site over the same rows.

Settings, URLs and views in one module (`DJANGO_SETTINGS_MODULE=bench.minimal_site`). Each page reads
what kamen's page of the same kind shows with few queries (a page of ids, their figures, a count),
renders it with one small template, with no middleware but allauth's (it will not start without),
no sessions and no cache, and pads the page with a comment to the size of kamen's
(BENCH_PAGE_BYTES_<KIND>, measured by the benchmark), so both send the same bytes.

    gunicorn bench.minimal_site:application    # run from the project root
"""

import os

from django.core.wsgi import get_wsgi_application
from django.db.models import Count, Min, Q
from django.http import HttpResponse
from django.template import Context, Engine
from django.urls import path

from kamen.settings import *  # noqa: F403 - the same database and apps as kamen

ROOT_URLCONF = "bench.minimal_site"
MIDDLEWARE = ["allauth.account.middleware.AccountMiddleware"]  # allauth refuses to start without it
TEMPLATES: list[dict] = []

PAGE = Engine().from_string(
    """<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8"><title>{{ title }}</title></head><body>
<h1>{{ title }}</h1><div class="pgrid">{% for p in products %}<article class="pcard"><a href="/p/{{ p.pk }}/">
<h3>{{ p.title }}</h3><span class="price">¥{{ p.low }}</span><span class="badge">库存 {{ p.stock }}</span></a></article>
{% endfor %}</div>{% for s in skus %}<label><input type="radio" name="sku" value="{{ s.pk }}">
{{ s.name }} ¥{{ s.price }} 库存 {{ s.stock }}</label>{% endfor %}<!--{{ padding }}--></body></html>"""
)


def _page(kind: str, title: str, **context) -> HttpResponse:
    html = PAGE.render(Context({"title": title, "padding": "", **context}))
    missing = int(os.environ.get(f"BENCH_PAGE_BYTES_{kind.upper()}", 0)) - len(html.encode())
    if missing > 0:
        html = html.replace("<!---->", f"<!--{'x' * max(0, missing - 7)}-->")
    return HttpResponse(html)


def _products(queryset, limit: int, offset: int = 0) -> list:
    """One page of products with their lowest price and free codes: the page's ids, then their figures."""
    from catalog.models import CardCode, Product

    ids = list(queryset.order_by("sort_order", "-id").values_list("pk", flat=True)[offset : offset + limit])
    free = Q(skus__codes__status=CardCode.Status.AVAILABLE)
    figures = (
        Product.objects.filter(pk__in=ids)
        .annotate(low=Min("skus__price"), stock=Count("skus__codes", filter=free))
        .values("pk", "title", "low", "stock")
    )
    by_id = {row["pk"]: row for row in figures}
    return [by_id[pk] for pk in ids]


def home(request):
    from catalog.models import Product

    return _page("home", "首页", products=_products(Product.objects.visible(), 20))


def listing(request, slug: str):
    from catalog.models import Product

    page = max(1, int(request.GET.get("page", 1)))
    products = Product.objects.visible().filter(Q(category__slug=slug) | Q(category__parent__slug=slug))
    return _page("listing", slug, products=_products(products, 20, (page - 1) * 20), count=products.count())


def product(request, pk: int):
    from catalog.models import CardCode, Sku

    free = Q(codes__status=CardCode.Status.AVAILABLE)
    skus = list(
        Sku.objects.filter(product_id=pk, is_active=True)
        .select_related("product")
        .annotate(stock=Count("codes", filter=free))
        .order_by("sort_order")
    )
    return _page("product", skus[0].product.title if skus else "", skus=skus)


def search(request):
    from catalog.models import Product

    query, page = request.GET.get("q", ""), max(1, int(request.GET.get("page", 1)))
    products = Product.objects.visible().filter(title__icontains=query)
    return _page("search", query, products=_products(products, 20, (page - 1) * 20), count=products.count())


urlpatterns = [
    path("", home),
    path("c/<slug:slug>/", listing),
    path("p/<int:pk>/", product),
    path("search/", search),
]

os.environ["DJANGO_SETTINGS_MODULE"] = "bench.minimal_site"
application = get_wsgi_application()
