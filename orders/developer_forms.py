from django import forms
from django.utils.translation import gettext_lazy as _

from accounts.api_keys import clean_networks
from accounts.models import ApiKey

NAME_MAX_LENGTH = ApiKey._meta.get_field("name").max_length
# Far more than any allow-list needs, and little enough that a pasted file is refused before it is parsed.
ALLOWED_IPS_MAX_LENGTH = 2000


class AllowedIpsField(forms.CharField):
    """Addresses or CIDR networks, one a line; cleaned to one network a line, or the line that is not one."""

    widget = forms.Textarea(attrs={"rows": 3})

    def __init__(self, **kwargs):
        kwargs.setdefault("label", _("Allowed IP addresses"))
        kwargs.setdefault("required", False)
        kwargs.setdefault("max_length", ALLOWED_IPS_MAX_LENGTH)
        kwargs.setdefault(
            "help_text", _("One address or network (CIDR, e.g. 203.0.113.0/24) a line. Empty: any address.")
        )
        super().__init__(**kwargs)

    def clean(self, value):
        return clean_networks(super().clean(value))


class ApiKeyForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=NAME_MAX_LENGTH, help_text=_("Which program uses it."))
    allowed_ips = AllowedIpsField()


class AllowedIpsForm(forms.Form):
    allowed_ips = AllowedIpsField()
