"""Sign-ups and sign-ins, with the referral tree: a new member is bound to the inviter whose link they
came by, and every sign-in is remembered as a sighting for the abuse checks."""

from django.http import HttpRequest

from accounts.adapter import AccountAdapter
from kamen.http import client_ip_or_none

from .cookies import INVITE_COOKIE, device_id
from .services import device_fingerprint, join, record_sighting


class InvitingAccountAdapter(AccountAdapter):
    def save_user(self, request: HttpRequest, user, form, commit: bool = True):
        user = super().save_user(request, user, form, commit)
        if commit:
            join(
                user,
                invite_code=request.COOKIES.get(INVITE_COOKIE, ""),
                device=device_fingerprint(device_id(request)),
                ip=client_ip_or_none(request),
            )
        return user

    def login(self, request: HttpRequest, user) -> None:
        super().login(request, user)
        record_sighting(user, device=device_fingerprint(device_id(request)), ip=client_ip_or_none(request))
