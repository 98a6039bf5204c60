from django.apps import AppConfig
from django.db.models.signals import post_delete, post_save
from django.utils.translation import gettext_lazy as _


def _level_changed(**kwargs) -> None:
    # Pages cached for visitors not signed in show the lowest level's prices.
    from .cache import catalog_changed

    catalog_changed()


class CatalogConfig(AppConfig):
    name = "catalog"
    verbose_name = _("Catalog")

    def ready(self) -> None:
        post_save.connect(_level_changed, sender="accounts.MemberLevel", dispatch_uid="catalog-level-saved")
        post_delete.connect(_level_changed, sender="accounts.MemberLevel", dispatch_uid="catalog-level-deleted")
