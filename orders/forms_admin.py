"""Admin forms for orders: what staff delivered by hand."""

from django import forms
from django.utils.translation import gettext_lazy as _


class ManualDeliveryForm(forms.Form):
    content = forms.CharField(
        label=_("Delivered content"),
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 6, "cols": 80, "autocomplete": "off"}),
        help_text=_("The codes, account or receipt the buyer receives. It is stored encrypted and shown only to them."),
        error_messages={"required": _("Enter what was delivered.")},
    )
