"""Admin forms for orders: what staff delivered by hand, and refunds (how much, where to, codes voided or not)."""

from decimal import Decimal

from django import forms
from django.utils.translation import gettext_lazy as _

from payments.models import Refund, new_refund_no


class ManualDeliveryForm(forms.Form):
    content = forms.CharField(
        label=_("Delivered content"),
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 6, "cols": 80, "autocomplete": "off"}),
        help_text=_("The codes, account or receipt the buyer receives. It is stored encrypted and shown only to them."),
        error_messages={"required": _("Enter what was delivered.")},
    )


class RefundForm(forms.Form):
    # The refund's number is made with the form: a double-clicked or re-sent form refunds once.
    refund_no = forms.CharField(widget=forms.HiddenInput, max_length=40, initial=new_refund_no)
    amount = forms.DecimalField(label=_("Amount (CNY)"), max_digits=12, decimal_places=2, min_value=Decimal("0.01"))
    destination = forms.ChoiceField(label=_("Refund to"), choices=Refund.Destination.choices)
    void_codes = forms.BooleanField(
        label=_("Void the delivered codes"),
        required=False,
        help_text=_("Only when the codes are unused and withdrawn at the issuer; the buyer sees them as voided."),
    )
    reason = forms.CharField(label=_("Reason"), max_length=300, required=False)

    def __init__(self, *args, wallet_allowed: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        if not wallet_allowed:
            self.fields["destination"].choices = [(Refund.Destination.ORIGINAL, Refund.Destination.ORIGINAL.label)]


class ApproveRefundForm(RefundForm):
    """Approving a buyer's request: the refund number already exists, and the reason is theirs."""

    refund_no = None
    reason = None


class DeclineRefundForm(forms.Form):
    note = forms.CharField(
        label=_("Reply to the buyer"),
        max_length=300,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text=_("Shown on the order page: say why the refund is declined."),
    )
