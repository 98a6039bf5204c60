"""allauth, the shop's way: links in account e-mails and the login limit never depend on the Host header.

allauth builds the links in its mails (password reset, e-mail confirmation, "you already have an
account", "no such account") from the request, and names the site after the request's host. A
request for a victim's password reset sent with `Host: attacker.example` would then mail the
victim a reset link to the attacker's site. Here every link comes from SITE_URL, and the site's
name from the shop settings.

The per-account login limit is keyed by allauth on the site's domain plus the e-mail; the domain
taken from the request includes the port, so a new `Host: shop:1`, `shop:2`… per try would start a
fresh count. Here the key is the e-mail on this shop, whatever the Host header says.
"""

from dataclasses import dataclass
from urllib.parse import quote, urlsplit

from allauth.account.adapter import DefaultAccountAdapter
from django.conf import settings
from django.urls import reverse

from kamen import shop_settings


@dataclass(frozen=True)
class ShopSite:
    """What allauth's mail templates read from `current_site`, fixed by SITE_URL."""

    name: str
    domain: str


def site_url(path: str) -> str:
    """An absolute link to `path` on this shop."""
    return settings.SITE_URL + path


def shop_site() -> ShopSite:
    return ShopSite(name=shop_settings.current().shop_name, domain=urlsplit(settings.SITE_URL).netloc)


class AccountAdapter(DefaultAccountAdapter):
    def is_open_for_signup(self, request) -> bool:
        # Staff close sign-up in the shop settings; allauth then shows its "sign-up closed" page.
        return shop_settings.current().sign_up_open

    def get_reset_password_from_key_url(self, key: str) -> str:
        path = reverse("account_reset_password_from_key", kwargs={"uidb36": "UID", "key": "KEY"})
        return site_url(path.replace("UID-KEY", quote(key)))

    def get_email_confirmation_url(self, request, emailconfirmation) -> str:
        return site_url(reverse("account_confirm_email", args=[emailconfirmation.key]))

    def send_account_already_exists_mail(self, email: str) -> None:
        context = {
            "signup_url": site_url(reverse("account_signup")),
            "password_reset_url": site_url(reverse("account_reset_password")),
        }
        self.send_mail("account/email/account_already_exists", email, context)

    def send_mail(self, template_prefix: str, email: str, context: dict) -> None:
        context = {**context, "current_site": shop_site()}
        if "signup_url" in context:
            # The "no account with this e-mail" mail builds it from the request before it gets here.
            context["signup_url"] = site_url(reverse("account_signup"))
        super().send_mail(template_prefix, email, context)

    def format_email_subject(self, subject: str) -> str:
        return f"[{shop_site().name}] {subject}"

    def _get_login_attempts_cache_key(self, request, **credentials) -> str:
        # Overrides allauth's key (site domain from the Host header, port included; see the module docstring).
        login = credentials.get("email", credentials.get("username", "")).lower()
        return f"{urlsplit(settings.SITE_URL).hostname}:{login}"
