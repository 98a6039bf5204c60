"""Forms of the back office."""

from django import forms
from django.utils.translation import gettext_lazy as _


class ExportForm(forms.Form):
    """What to write: the format and, only for a holder of the reveal permission, the card secrets."""

    file_format = forms.ChoiceField(
        label=_("Format"),
        choices=[("xlsx", _("Excel (.xlsx)")), ("csv", _("CSV, UTF-8 (.csv)"))],
        initial="xlsx",
        widget=forms.RadioSelect,
    )
    include_secrets = forms.BooleanField(
        label=_("Include the card numbers and secrets"),
        required=False,
        help_text=_("They are decrypted into the file, and the audit log records that you exported them."),
    )

    def __init__(self, *args, offer_secrets: bool, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if not offer_secrets:
            del self.fields["include_secrets"]
