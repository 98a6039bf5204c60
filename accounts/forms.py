"""allauth's login and sign-up forms with the shop's security check (kamen.captcha): asked only of an
address that failed to log in, or signed up, several times just now."""

from allauth.account.forms import LoginForm, SignupForm
from allauth.core import context
from django.core.exceptions import ValidationError

from kamen import captcha
from kamen.http import client_ip_or_none


class ShopLoginForm(captcha.CaptchaFormMixin, LoginForm):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        request = self.request or context.request
        self.client_ip = client_ip_or_none(request) if request is not None else None
        if captcha.is_required(captcha.LOGIN, self.client_ip):
            self.ask_captcha(captcha.LOGIN)

    def clean(self):
        # An unsolved check leaves a field error, and allauth then tries no password at all.
        try:
            return super().clean()
        except ValidationError:
            captcha.count_attempt(captcha.LOGIN, self.client_ip)
            raise


class ShopSignupForm(captcha.CaptchaFormMixin, SignupForm):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        request = context.request
        self.client_ip = client_ip_or_none(request) if request is not None else None
        if captcha.is_required(captcha.SIGNUP, self.client_ip):
            self.ask_captcha(captcha.SIGNUP)

    def clean(self):
        if self.is_bound:
            captcha.count_attempt(captcha.SIGNUP, self.client_ip)
        return super().clean()
