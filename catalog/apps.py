from django.apps import AppConfig
from django.db.models.signals import post_delete, post_save
from django.utils.translation import gettext_lazy as _


def _shown_on_cached_pages_changed(**kwargs) -> None:
    # Pages cached for visitors not signed in show the lowest level's prices, and the home page the
    # shop's announcements.
    from .cache import catalog_changed

    catalog_changed()


class CatalogConfig(AppConfig):
    name = "catalog"
    verbose_name = _("Catalog")

    def ready(self) -> None:
        for model in ("MemberLevel", "Announcement"):
            sender = f"accounts.{model}"
            post_save.connect(_shown_on_cached_pages_changed, sender=sender, dispatch_uid=f"catalog-{model}-saved")
            post_delete.connect(_shown_on_cached_pages_changed, sender=sender, dispatch_uid=f"catalog-{model}-deleted")
