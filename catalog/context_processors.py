from .cache import cached_fragment
from .selectors import category_tree


def navigation(request) -> dict:
    """Top categories for the header; cached briefly so every page pays one cache hit, not queries."""
    if request.path.startswith("/admin/"):
        return {}

    def tree() -> list[dict]:
        return [
            {
                "name": c.name,
                "url": c.get_absolute_url(),
                "children": [{"name": k.name, "url": k.get_absolute_url()} for k in c.children.all()],
            }
            for c in category_tree()
        ]

    return {"nav_categories": cached_fragment(("nav",), tree)}
