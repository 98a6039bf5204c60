from django.http import HttpRequest

from . import shop_settings


def shop(request: HttpRequest) -> dict:
    """The shop settings for the layout: its name and logo, the footer's contact, the feature switches."""
    return {"shop": shop_settings.current()}
