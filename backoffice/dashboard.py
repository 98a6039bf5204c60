"""The admin's first page: the numbers of the business."""


def dashboard_context(request, context: dict) -> dict:
    return context
