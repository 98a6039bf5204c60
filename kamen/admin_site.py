"""How the admin presents itself: the shop's name and mark, and a sidebar grouped by the work staff do.

django-unfold reads these through the UNFOLD setting. The sidebar names admin pages by URL and model
label only, so this bottom layer imports none of the apps it links to.
"""

from allauth.account.decorators import secure_admin_login
from allauth.mfa.utils import is_mfa_enabled
from django.apps import apps
from django.conf import settings
from django.contrib import admin, messages
from django.shortcuts import redirect
from django.templatetags.static import static
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from unfold.sites import UnfoldAdminSite

from kamen import shop_settings


class ShopAdminSite(UnfoldAdminSite):
    """The admin, open only to active staff who signed in through the shop's login with a second factor.

    The shop's login applies one set of failed-attempt limits and lockouts to everyone, and allauth
    asks for the authenticator code of anyone who has one; staff without one are sent to set it up
    (STAFF_REQUIRE_2FA) before any admin page opens.
    """

    index_title = _("Dashboard")

    def has_permission(self, request) -> bool:
        return super().has_permission(request) and not self._second_factor_missing(request)

    @staticmethod
    def _second_factor_missing(request) -> bool:
        # Asked several times for one admin page (the view, its context, the sidebar); the
        # authenticator lookup is a query, so it is made once per request.
        if not hasattr(request, "_second_factor_missing"):
            request._second_factor_missing = needs_second_factor(request.user)
        return request._second_factor_missing

    def login(self, request, extra_context=None):
        if needs_second_factor(request.user):
            messages.warning(
                request, gettext("Staff must turn on two-factor authentication before opening the back office.")
            )
            return redirect(f"{reverse('mfa_activate_totp')}?next={reverse('admin:index')}")
        return secure_admin_login(super().login)(request, extra_context)


def needs_second_factor(user) -> bool:
    """Whether `user` is signed-in staff who must still set up an authenticator to use the admin."""
    return (
        settings.STAFF_REQUIRE_2FA
        and user.is_authenticated
        and user.is_active
        and user.is_staff
        and not is_mfa_enabled(user)
    )


# (group title, [(app_label.model_name, Material Symbols icon), ...]) in the order staff use them.
SIDEBAR = (
    (
        _("Orders"),
        [
            ("orders.staffqueueorder", "report"),
            ("orders.order", "receipt_long"),
            ("payments.refund", "undo"),
            ("payments.payment", "payments"),
            ("payments.paymentnotification", "notifications"),
        ],
    ),
    (
        _("Goods and supply"),
        [
            ("catalog.reviewqueueproduct", "fact_check"),
            ("catalog.product", "inventory_2"),
            ("catalog.sku", "sell"),
            ("catalog.cardcode", "key"),
            ("catalog.category", "category"),
            ("catalog.supplier", "local_shipping"),
            ("catalog.prohibitedrule", "block"),
        ],
    ),
    (
        _("Members"),
        [
            ("accounts.user", "group"),
            ("accounts.memberlevel", "workspace_premium"),
            ("accounts.wallet", "account_balance_wallet"),
            ("accounts.walletentry", "list_alt"),
            ("accounts.levelchange", "trending_up"),
            ("accounts.pointsaccount", "stars"),
            ("accounts.pointsentry", "list_alt"),
            ("orders.levelpurchase", "shopping_bag"),
        ],
    ),
    (
        _("Marketing"),
        [
            ("orders.coupon", "confirmation_number"),
            ("orders.couponcode", "qr_code"),
            ("orders.coupongrant", "redeem"),
            ("orders.couponuse", "history"),
            ("orders.pointsreward", "storefront"),
            ("orders.pointsredemption", "history"),
            ("accounts.announcement", "campaign"),
            ("accounts.message", "mail"),
        ],
    ),
    (
        _("Distribution"),
        [
            ("distribution.referrer", "share"),
            ("distribution.commission", "paid"),
            ("distribution.ledgerentry", "list_alt"),
            ("distribution.withdrawal", "savings"),
            ("distribution.commissionrule", "rule"),
            ("distribution.levelterms", "tune"),
        ],
    ),
    (
        _("Security and system"),
        [
            ("kamen.shopsettings", "settings"),
            ("kamen.staffaction", "policy"),
            ("kamen.adminjob", "task_alt"),
            ("orders.blockedbuyer", "gpp_bad"),
            ("catalog.cardcodereveal", "visibility"),
            ("accounts.staffalert", "notification_important"),
            ("accounts.alertchannel", "send"),
            ("account.emailaddress", "alternate_email"),
            ("auth.group", "admin_panel_settings"),
        ],
    ),
)


def site_title(request) -> str:
    return shop_settings.current().shop_name


def site_icon(request) -> str:
    return shop_settings.current().logo_url or static("img/kamen-mark.svg")


def site_subheader(request) -> str:
    return str(_("Back office"))


def stylesheet(request) -> str:
    return static("css/admin.css")


def sidebar(request) -> list[dict]:
    """The sidebar's groups, each with the pages this member of staff may open; empty groups left out."""
    groups = [{"title": _("Overview"), "items": [_dashboard_item()]}]
    for title, entries in SIDEBAR:
        items = [item for label, icon in entries if (item := _model_item(request, label, icon))]
        if items:
            groups.append({"title": title, "collapsible": True, "items": items})
    return groups


def _dashboard_item() -> dict:
    return {"title": _("Dashboard"), "icon": "dashboard", "link": reverse("admin:index")}


def _model_item(request, label: str, icon: str) -> dict | None:
    try:
        model = apps.get_model(label)
    except LookupError:
        return None
    model_admin = admin.site._registry.get(model)
    if model_admin is None or not model_admin.has_view_or_change_permission(request):
        return None
    try:
        link = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
    except NoReverseMatch:
        return None
    return {"title": model._meta.verbose_name_plural, "icon": icon, "link": link}
