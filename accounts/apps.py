from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = _("Users and wallets")

    def ready(self) -> None:
        from kamen import viewers

        from . import inbox

        viewers.read_with_card(inbox.unread_key)  # the header's unread badge on cached pages
