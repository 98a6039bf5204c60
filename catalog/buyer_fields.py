"""The answers a buyer gives to a product's input fields (下单附加信息): one rule for the form and the service."""

import re
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from .models import BuyerField

MAX_ANSWER_LENGTH = 64
K = BuyerField.Kind
# The shape of each kind of answer; a staff pattern applies on top.
SHAPES = {
    K.NUMBER: (re.compile(r"[0-9]{1,20}"), gettext_lazy("Enter digits only.")),
    K.PHONE: (re.compile(r"1[3-9][0-9]{9}"), gettext_lazy("Enter an 11-digit mainland mobile number.")),
    K.QQ: (re.compile(r"[1-9][0-9]{4,11}"), gettext_lazy("Enter a QQ number (5 to 12 digits).")),
}


def check_pattern(pattern: str) -> None:
    """Raise ValidationError unless staff's pattern is a regular expression that compiles."""
    try:
        re.compile(pattern)
    except re.error as error:
        raise ValidationError({"pattern": _("Not a valid pattern: %(error)s") % {"error": error}}) from None


@dataclass(frozen=True)
class Answer:
    label: str
    kind: str
    value: str

    def as_dict(self) -> dict[str, str]:
        return {"label": self.label, "kind": self.kind, "value": self.value}


def clean_answer(field: BuyerField, raw: str) -> str:
    """The buyer's answer to `field`, stripped, or ValidationError with a message they can act on."""
    value = (raw or "").strip()
    if not value:
        if field.required:
            raise ValidationError(_("Please fill in %(label)s.") % {"label": field.label})
        return ""
    if len(value) > MAX_ANSWER_LENGTH or any(ord(ch) < 32 for ch in value):
        raise ValidationError(
            _("%(label)s is too long or has characters that are not allowed.") % {"label": field.label}
        )
    if field.kind == K.CHOICE:
        if value not in field.options:
            raise ValidationError(_("Choose one of the options for %(label)s.") % {"label": field.label})
        return value
    shape = SHAPES.get(field.kind)
    if shape and not (value.isascii() and shape[0].fullmatch(value)):
        raise ValidationError(str(shape[1]))
    if field.pattern and not re.fullmatch(field.pattern, value):
        raise ValidationError(_("%(label)s is not in the expected format.") % {"label": field.label})
    return value


def clean_answers(fields: list[BuyerField], raw: dict[str, str]) -> list[Answer]:
    """Every answer for a product's fields, keyed by `field_name(field)` in `raw`; raises on the first bad one."""
    return [
        Answer(label=field.label, kind=field.kind, value=clean_answer(field, raw.get(field_name(field), "")))
        for field in fields
    ]


def field_name(field: BuyerField) -> str:
    return f"input_{field.pk}"
