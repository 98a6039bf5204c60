"""Product search: a bigram full-text index on PostgreSQL, a plain scan elsewhere.

Chinese has no spaces between words and shoppers type two-character words (腾讯, 原神), which a
trigram index cannot serve. Each product keeps its searchable text as terms (`terms`): every run of
Chinese characters becomes its overlapping two-character pieces (王者荣耀 → 王者 者荣 荣耀) plus its
last character, every other word is kept whole, lowercased. PostgreSQL indexes them as a weighted
tsvector (title A, brand and keywords B, description C; see the migration's GIN index), and a query
becomes a phrase of its own pieces (视频会员 → 视频 <-> 频会 <-> 会员), so a match is a real
substring; a single character or a Latin word matches as a prefix (腾, ste). Results are ranked,
title matches first. Category names are matched in the small category table and their products
come after the ranked ones.

The database needs a UTF-8 character type (C.UTF-8, en_US.UTF-8, zh_CN.UTF-8: any Debian default) for
its text-search parser to read Chinese characters as letters.
"""

import re

from django.contrib.postgres.search import SearchQuery, SearchRank, SearchVector
from django.db import connection
from django.db.models import Q, QuerySet

HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
TOKEN = re.compile(rf"[{HAN}]+|[^\W_{HAN}]+")
CONFIG = "simple"
SOURCE_FIELDS = ("title", "brand", "keywords", "description")
FIELDS = ("search_title", "search_keywords", "search_body")

# The indexed expression; the GIN index in migration 0006 is built from this same expression.
VECTOR = (
    SearchVector("search_title", weight="A", config=CONFIG)
    + SearchVector("search_keywords", weight="B", config=CONFIG)
    + SearchVector("search_body", weight="C", config=CONFIG)
)


def _is_han(token: str) -> bool:
    return "\u3400" <= token[0] <= "\u9fff" or "\uf900" <= token[0] <= "\ufaff"


def terms(text: str) -> str:
    """The indexed terms of `text`, space-separated."""
    out: list[str] = []
    for token in TOKEN.findall(text.lower()):
        if _is_han(token):
            out += [token[i : i + 2] for i in range(len(token) - 1)] + [token[-1]]
        else:
            out.append(token)
    return " ".join(out)


def fill(product) -> None:
    """Set the product's search columns from its title, brand, keywords and description."""
    product.search_title = terms(product.title)
    product.search_keywords = terms(f"{product.brand} {product.keywords}")
    product.search_body = terms(product.description)


def tsquery(text: str) -> str:
    """A raw tsquery for what the shopper typed; "" when it holds nothing to search for.

    Only letters, digits and Chinese characters reach it, so it is always a valid tsquery.
    """
    parts = []
    for token in TOKEN.findall(text.lower()):
        if _is_han(token) and len(token) > 1:
            parts.append("(" + " <-> ".join(token[i : i + 2] for i in range(len(token) - 1)) + ")")
        else:
            parts.append(f"{token}:*")
    return " & ".join(parts)


def matching(products: QuerySet, text: str, *, categories: list[int]) -> QuerySet:
    """`products` matching `text`, best first; `categories` are the ids whose names match."""
    in_category = Q(category_id__in=categories)
    if connection.vendor != "postgresql":
        words = Q(title__icontains=text) | Q(brand__icontains=text) | Q(keywords__icontains=text)
        return products.filter(words | Q(description__icontains=text) | in_category)
    query = tsquery(text)
    if not query:
        return products.filter(in_category)
    search = SearchQuery(query, search_type="raw", config=CONFIG)
    return (
        products.annotate(document=VECTOR, rank=SearchRank(VECTOR, search))
        .filter(Q(document=search) | in_category)
        .order_by("-rank", "sort_order", "-id")
    )
