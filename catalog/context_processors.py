from django.core.cache import cache

from .selectors import category_tree


def navigation(request) -> dict:
    """Top categories for the header; cached briefly so every page pays one cache hit, not queries."""
    if request.path.startswith("/admin/"):
        return {}
    tree = cache.get("nav:categories")
    if tree is None:
        tree = [
            {
                "name": c.name,
                "url": c.get_absolute_url(),
                "children": [{"name": k.name, "url": k.get_absolute_url()} for k in c.children.all()],
            }
            for c in category_tree()
        ]
        cache.set("nav:categories", tree, 60)
    return {"nav_categories": tree}
