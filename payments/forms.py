from django import forms
from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.utils.translation import gettext_lazy as _


class TopUpForm(forms.Form):
    """充值: how much, and through which gateway. The service checks the amount again."""

    amount = forms.DecimalField(label=_("Amount (yuan)"), max_digits=10, decimal_places=2)
    provider = forms.ChoiceField(label=_("Pay with"), widget=forms.RadioSelect)

    def __init__(self, *args, providers=(), **kwargs):
        super().__init__(*args, **kwargs)
        # Limits come from settings at request time, so they are not class attributes.
        amount = self.fields["amount"]
        amount.validators += [MinValueValidator(settings.TOPUP_MIN), MaxValueValidator(settings.TOPUP_MAX)]
        amount.widget.attrs.update(
            min=str(settings.TOPUP_MIN),
            max=str(settings.TOPUP_MAX),
            step="0.01",
            inputmode="decimal",
            **{"class": "input"},
        )
        self.fields["provider"].choices = [(p.code, p.verbose_name) for p in providers]
        if providers:
            self.fields["provider"].initial = providers[0].code
