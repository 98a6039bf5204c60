from .cache import cached_under, fragment_key
from .selectors import category_tree


def navigation(request) -> dict:
    """Top categories for the header; cached briefly so every page pays one cache hit, not queries.

    `nav_key` names the catalog generation and language the bar was read at, and `nav_active` the top
    category the page is in (or "home"): with them the rendered bar is a layout fragment.
    """
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

    key = fragment_key("nav")  # read once: it also keys the rendered bar
    nav = cached_under(key, tree)
    return {"nav_categories": nav, "nav_key": key, "nav_active": _active(request, nav)}


def _active(request, nav: list[dict]) -> str:
    """The top category whose page or one of whose children's pages this is; "home" on the home page."""
    match = request.resolver_match
    if match is not None and match.url_name == "home":
        return "home"
    for top in nav:
        if request.path == top["url"] or any(request.path == child["url"] for child in top["children"]):
            return top["url"]
    return ""
