"""Admin forms for the catalog: card-code import and the reason a product is rejected."""

from pathlib import PurePath

from django import forms
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext_lazy as _

from .models import Product

MAX_IMPORT_BYTES = 20 * 1024 * 1024
IMPORT_EXTENSIONS = (".txt", ".csv")


class CardCodeImportForm(forms.Form):
    """Codes pasted as text or uploaded as a UTF-8 .txt/.csv file; `codes()` gives what to import."""

    text = forms.CharField(
        label=_("Codes"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 14, "cols": 80, "spellcheck": "false", "autocomplete": "off"}),
        help_text=_(
            "One code per line. A card number and password go on one line, separated by a space, tab, "
            "comma, “|” or “----”. For large batches upload a file instead."
        ),
    )
    file = forms.FileField(
        label=_("Or upload a file"),
        required=False,
        help_text=_("A .txt or .csv file in UTF-8, at most 20 MB."),
    )

    def clean_file(self):
        upload = self.cleaned_data.get("file")
        if upload is None:
            return None
        if PurePath(upload.name).suffix.lower() not in IMPORT_EXTENSIONS:
            raise forms.ValidationError(_("Only .txt and .csv files can be imported."))
        if upload.size > MAX_IMPORT_BYTES:
            raise forms.ValidationError(
                _("The file is larger than %(size)s; split it into smaller files.")
                % {"size": filesizeformat(MAX_IMPORT_BYTES)}
            )
        try:
            # utf-8-sig also accepts the byte-order mark Windows editors put at the start.
            self.file_text = upload.read().decode("utf-8-sig")
        except UnicodeDecodeError:
            raise forms.ValidationError(_("The file is not UTF-8 text; save it as UTF-8 and try again.")) from None
        return upload

    def clean(self):
        data = super().clean()
        has_text = bool(data.get("text", "").strip())
        has_file = data.get("file") is not None
        if has_text and has_file:
            raise forms.ValidationError(_("Paste codes or upload a file, not both."))
        if not has_text and not has_file and not self.errors:
            raise forms.ValidationError(_("Paste some codes or choose a file."))
        return data

    def codes(self) -> tuple[str, bool]:
        """The text to import and whether it is CSV; call after `is_valid()`."""
        upload = self.cleaned_data.get("file")
        if upload is None:
            return self.cleaned_data["text"], False
        return self.file_text, PurePath(upload.name).suffix.lower() == ".csv"


class RejectionForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason for rejection"),
        max_length=Product._meta.get_field("rejection_reason").max_length,
        widget=forms.TextInput(attrs={"size": 80}),
    )
