from . import inbox


def unread_messages(request) -> dict:
    """The unread badge in the header of a signed-in member's pages (pages for visitors have none)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or request.path.startswith("/admin/"):
        return {}
    return {"unread_messages": inbox.unread_count(user)}
