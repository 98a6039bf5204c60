"""The prohibited-goods policy (禁售规则): which active rule, if any, a product hits.

Staff keep the rules in admin (`ProhibitedRule`); moderation refuses to approve a product that hits
one and the review queue shows the hit. Text is compared after NFKC folding and case folding, so
"ＵＳＤＴ", "usdt" and "USDT" are one word. A keyword in Latin letters and digits only matches as a
whole word (ETH must not hit "method"); any other keyword (比特币) matches anywhere in the text.
"""

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

from django.utils.translation import gettext as _

from .models import Category, Product, ProhibitedRule

# What a buyer reads of a product: each is searched for the rules' keywords.
CHECKED_FIELDS = ("title", "brand", "keywords", "description")
_LATIN_WORD = re.compile(r"[0-9a-z]+")


@dataclass(frozen=True)
class Hit:
    """A product hits `rule` because of `matched` (a keyword, or the category name)."""

    rule: str
    matched: str
    reason: str = ""

    def __str__(self) -> str:
        return _("Hits the prohibited-goods rule “%(rule)s”: %(matched)s") % {
            "rule": self.rule,
            "matched": self.matched,
        }


def fold(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold()


class Policy:
    """The active rules, read once, to check one product or a page of them."""

    def __init__(self, rules: Iterable[ProhibitedRule]) -> None:
        self.keyword_rules: list[tuple[ProhibitedRule, list[tuple[str, re.Pattern]]]] = []
        self.category_rules: dict[int, ProhibitedRule] = {}
        for rule in rules:
            if rule.kind == ProhibitedRule.Kind.CATEGORY and rule.category_id:
                self.category_rules.setdefault(rule.category_id, rule)
            elif rule.kind == ProhibitedRule.Kind.KEYWORD:
                self.keyword_rules.append((rule, [(word, _pattern(word)) for word in rule.words]))

    @classmethod
    def load(cls) -> "Policy":
        return cls(ProhibitedRule.objects.filter(is_active=True).order_by("id"))

    def check(self, product: Product, *, sku_names: Iterable[str] | None = None) -> Hit | None:
        """The first rule `product` hits, or None. `sku_names` saves a query when the caller has them."""
        category_hit = self._category_hit(product.category)
        if category_hit:
            return category_hit
        if sku_names is None:
            sku_names = product.skus.values_list("name", flat=True)
        text = fold("\n".join([*(getattr(product, name) for name in CHECKED_FIELDS), *sku_names, *_names(product)]))
        for rule, patterns in self.keyword_rules:
            for word, pattern in patterns:
                if pattern.search(text):
                    return Hit(rule=rule.name, matched=word, reason=rule.reason)
        return None

    def _category_hit(self, category: Category) -> Hit | None:
        for each in (category, category.parent if category.parent_id else None):
            rule = self.category_rules.get(each.pk) if each is not None else None
            if rule is not None:
                return Hit(rule=rule.name, matched=each.name, reason=rule.reason)
        return None


def check(product: Product) -> Hit | None:
    """The first active rule `product` hits, as it is saved now."""
    return Policy.load().check(product)


def _names(product: Product) -> list[str]:
    category = product.category
    return [category.name, category.parent.name] if category.parent_id else [category.name]


def _pattern(word: str) -> re.Pattern:
    folded = fold(word)
    if _LATIN_WORD.fullmatch(folded):
        return re.compile(rf"(?<![0-9a-z]){re.escape(folded)}(?![0-9a-z])")
    return re.compile(re.escape(folded))
