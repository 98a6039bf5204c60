from django.http import HttpRequest
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from .base import BasePaymentProvider, PaymentAction


class BalanceProvider(BasePaymentProvider):
    """Pay from the signed-in buyer's wallet; the debit and the confirmation are one transaction."""

    code = "balance"
    verbose_name = _("Wallet balance")
    requires_login = True

    def status_lines(self) -> list[str]:
        return [gettext("pays from the buyer's wallet ledger; refunds go back to the wallet")]

    def start(self, payment, *, request: HttpRequest) -> PaymentAction:
        from payments.services import pay_with_balance

        pay_with_balance(payment, user=request.user)
        return PaymentAction(kind="done", url=payment.get_absolute_url())
