from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class KamenConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "kamen"
    verbose_name = _("Shop system")

    def ready(self) -> None:
        from . import viewers

        viewers.connect_signals()
