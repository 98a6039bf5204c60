from django import forms
from django.utils.translation import gettext_lazy as _

from .models import Order

# The column's own limit: a longer address would pass the form and fail in the database.
CONTACT_EMAIL_MAX_LENGTH = Order._meta.get_field("contact_email").max_length


class CheckoutForm(forms.Form):
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

    def __init__(self, *args, user=None, providers=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        self.fields["payment_method"].choices = [(p.code, p.verbose_name) for p in providers]
        if providers:
            self.fields["payment_method"].initial = providers[0].code
        if user is not None:
            del self.fields["contact_email"]
            del self.fields["lookup_password"]

    def clean(self):
        data = super().clean()
        if self.user is None:
            if not data.get("contact_email"):
                self.add_error("contact_email", _("Enter the e-mail address the codes should go to."))
            if not data.get("lookup_password"):
                self.add_error("lookup_password", _("Set a lookup password so only you can open this order."))
        return data


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
