from django import forms
from django.utils.translation import gettext_lazy as _

from .models import Withdrawal


class BindInviterForm(forms.Form):
    code = forms.CharField(label=_("Inviter's code"), max_length=12)


class WithdrawalForm(forms.Form):
    amount = forms.DecimalField(label=_("Amount (¥)"), min_value=0, max_digits=12, decimal_places=2)
    method = forms.ChoiceField(
        label=_("To"), choices=Withdrawal.Method.choices, widget=forms.RadioSelect, initial=Withdrawal.Method.ALIPAY
    )
    account = forms.CharField(label=_("Alipay account"), max_length=100, required=False)
    account_name = forms.CharField(label=_("Real name"), max_length=40, required=False)
