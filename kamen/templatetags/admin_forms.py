"""Form fields on the admin's own tool pages (credit, import, refund, reject) in the admin theme's look.

The theme styles the widgets of ModelAdmin forms; these plain forms get the same classes here, at render.
"""

from django import forms, template
from unfold import widgets as theme

register = template.Library()

_CLASSES = (
    (forms.CheckboxInput, theme.CHECKBOX_CLASSES),
    (forms.RadioSelect, theme.RADIO_CLASSES),
    (forms.CheckboxSelectMultiple, theme.CHECKBOX_CLASSES),
    (forms.Select, theme.SELECT_CLASSES),
    (forms.Textarea, theme.TEXTAREA_CLASSES),
    (forms.FileInput, theme.FILE_CLASSES),
)


@register.filter
def themed(field: forms.BoundField) -> str:
    """The field's widget rendered with the theme's classes for its kind (text, select, checkbox, ...)."""
    widget = field.field.widget
    classes = next((classes for kind, classes in _CLASSES if isinstance(widget, kind)), theme.INPUT_CLASSES)
    return field.as_widget(attrs={"class": " ".join([*classes, widget.attrs.get("class", "")]).strip()})
