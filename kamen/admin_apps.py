from django.contrib.admin.apps import AdminConfig


class ShopAdminConfig(AdminConfig):
    """django.contrib.admin with the shop's admin site (kamen/admin_site.py) as `admin.site`."""

    default_site = "kamen.admin_site.ShopAdminSite"
