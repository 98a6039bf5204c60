"""The two cookies of invitations: the inviter a visitor came by (30 days) and the device cookie that
tells one browser from another when the abuse checks compare an invitee with their upline."""

from django.conf import settings

from kamen.http import DEVICE_COOKIE, DEVICE_COOKIE_AGE, device_id

__all__ = ["DEVICE_COOKIE", "INVITE_COOKIE", "DeviceCookieMiddleware", "device_id", "remember_inviter"]

INVITE_COOKIE = "kamen_invite"


class DeviceCookieMiddleware:
    """Sets the device cookie on the responses that asked for one (sign-up, sign-in, an invite link),
    never on cached pages."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        new = getattr(request, "_kamen_new_device", "")
        if new:
            _set_cookie(response, DEVICE_COOKIE, new, max_age=DEVICE_COOKIE_AGE)
        return response


def remember_inviter(response, code: str) -> None:
    _set_cookie(response, INVITE_COOKIE, code, max_age=settings.INVITE_COOKIE_DAYS * 24 * 3600)


def _set_cookie(response, name: str, value: str, *, max_age: int) -> None:
    # Read by the server only, sent on links from other sites (an invite shared in WeChat).
    response.set_cookie(
        name, value, max_age=max_age, httponly=True, samesite="Lax", secure=settings.SESSION_COOKIE_SECURE
    )
