from django.core.cache import cache

from .cache import FRAGMENT_SECONDS, fragment_key
from .selectors import category_tree


def navigation(request) -> dict:
    """Top categories for the header; cached briefly so every page pays one cache hit, not queries."""
    if request.path.startswith("/admin/"):
        return {}
    key = fragment_key("nav")
    tree = cache.get(key)
    if tree is None:
        tree = [
            {
                "name": c.name,
                "url": c.get_absolute_url(),
                "children": [{"name": k.name, "url": k.get_absolute_url()} for k in c.children.all()],
            }
            for c in category_tree()
        ]
        cache.set(key, tree, FRAGMENT_SECONDS)
    return {"nav_categories": tree}
