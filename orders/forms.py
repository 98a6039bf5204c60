from django import forms
from django.utils.translation import gettext_lazy as _

from catalog.buyer_fields import MAX_ANSWER_LENGTH, clean_answer, field_name
from catalog.models import BuyerField
from kamen import captcha
from kamen.parsing import BIGINT_MAX

from .models import Order

# The column's own limit: a longer address would pass the form and fail in the database.
CONTACT_EMAIL_MAX_LENGTH = Order._meta.get_field("contact_email").max_length


class DigitsField(forms.IntegerField):
    """A whole number written in ASCII digits: Python's int() also reads "١٢" or "１２", no page of ours sends them."""

    def to_python(self, value):
        if value not in self.empty_values and not str(value).strip().isascii():
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid")
        return super().to_python(value)


class CheckoutForm(captcha.CaptchaFormMixin, forms.Form):
    """What the shopper chooses. Price is not among the fields: the server computes it."""

    sku = forms.IntegerField(widget=forms.HiddenInput, min_value=1)
    quantity = forms.IntegerField(label=_("Quantity"), min_value=1, max_value=1000, initial=1)
    contact_email = forms.EmailField(label=_("Contact e-mail"), required=False, max_length=CONTACT_EMAIL_MAX_LENGTH)
    lookup_password = forms.CharField(
        label=_("Lookup password"),
        required=False,
        min_length=4,
        max_length=64,
        widget=forms.PasswordInput(render_value=True),
        help_text=_("With your order number and e-mail, it lets you look the order up later."),
    )
    payment_method = forms.ChoiceField(label=_("Payment method"), widget=forms.RadioSelect)
    coupon_code = forms.CharField(label=_("Coupon code"), required=False, max_length=64)
    # One of the member's own coupons (我的优惠券), chosen from the list instead of typing a code.
    coupon_grant = DigitsField(widget=forms.HiddenInput, required=False, min_value=1, max_value=BIGINT_MAX)

    def __init__(self, *args, user=None, providers=(), buyer_fields=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        self.buyer_fields = list(buyer_fields)
        for field in self.buyer_fields:
            self.fields[field_name(field)] = BuyerAnswerField(field)
        self.fields["payment_method"].choices = [(p.code, p.verbose_name) for p in providers]
        if providers:
            self.fields["payment_method"].initial = providers[0].code
        if user is not None:
            del self.fields["contact_email"]
            del self.fields["lookup_password"]

    @property
    def buyer_inputs(self) -> list[forms.BoundField]:
        """The bound fields of the product's input fields, in their order, for the template."""
        return [self[field_name(field)] for field in self.buyer_fields]

    def buyer_input(self) -> dict[str, str]:
        """The answers by form name, for `place_order` (call after `is_valid()`)."""
        return {field_name(field): self.cleaned_data.get(field_name(field), "") for field in self.buyer_fields}

    def clean(self):
        data = super().clean()
        if self.user is None:
            if not data.get("contact_email"):
                self.add_error("contact_email", _("Enter the e-mail address the codes should go to."))
            if not data.get("lookup_password"):
                self.add_error("lookup_password", _("Set a lookup password so only you can open this order."))
        return data


class PricePreviewForm(forms.Form):
    """What the product page sends while the shopper chooses, to have the server price it."""

    sku = DigitsField(min_value=1, max_value=BIGINT_MAX)
    quantity = DigitsField(min_value=1, max_value=1000)
    coupon_code = forms.CharField(required=False, max_length=64)
    coupon_grant = DigitsField(required=False, min_value=1, max_value=BIGINT_MAX)


class LookupForm(forms.Form):
    number = forms.CharField(label=_("Order number"), max_length=32)
    contact_email = forms.EmailField(label=_("Contact e-mail"), max_length=CONTACT_EMAIL_MAX_LENGTH)
    lookup_password = forms.CharField(label=_("Lookup password"), max_length=64, widget=forms.PasswordInput)


class RefundRequestForm(forms.Form):
    reason = forms.CharField(
        label=_("Why do you want a refund?"),
        max_length=300,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("For example: the code does not work, or it was bought by mistake. Staff reply on this page."),
    )


class BuyerAnswerField(forms.CharField):
    """A product's input field at checkout; its rules are `catalog.buyer_fields.clean_answer`."""

    def __init__(self, field: BuyerField):
        self.buyer_field = field
        widget = forms.Select if field.kind == BuyerField.Kind.CHOICE else forms.TextInput
        super().__init__(
            label=field.label,
            required=False,  # clean_answer says what is missing, in the field's own words
            max_length=MAX_ANSWER_LENGTH * 4,
            help_text=field.help_text,
            widget=widget(**_widget_options(field)),
        )

    def clean(self, value):
        return clean_answer(self.buyer_field, super().clean(value))


def _widget_options(field: BuyerField) -> dict:
    if field.kind == BuyerField.Kind.CHOICE:
        return {"choices": [("", "—"), *((option, option) for option in field.options)], "attrs": {"class": "input"}}
    numeric = field.kind in (BuyerField.Kind.NUMBER, BuyerField.Kind.PHONE, BuyerField.Kind.QQ)
    attrs = {"class": "input", "autocomplete": "off", "placeholder": field.help_text or field.label}
    if numeric:
        attrs["inputmode"] = "numeric"
    return {"attrs": attrs}
