"""/api/v1/ authentication (signed requests by API key), per-key rate limits, and the wallet balance."""

import logging
import time

from django.utils.encoding import escape_uri_path
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import authentication, exceptions, serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.throttling import SimpleRateThrottle
from rest_framework.views import APIView

from kamen import api_signing
from kamen.http import client_ip

from .api_keys import SignatureRefused, check_signed_request
from .services import get_or_create_wallet

logger = logging.getLogger("kamen.api")


class SignedKeyAuthentication(authentication.BaseAuthentication):
    """A request signed with an API key (kamen.api_signing); `request.auth` is the ApiKey."""

    def authenticate(self, request):
        meta = request.META
        key_id = meta.get("HTTP_X_KAMEN_KEY", "")
        if not key_id:
            raise exceptions.NotAuthenticated(f"Sign the request and name your key in {api_signing.KEY_HEADER}.")
        ip = client_ip(request._request)
        try:
            key = check_signed_request(
                key_id=key_id[:40],
                timestamp=meta.get("HTTP_X_KAMEN_TIMESTAMP", ""),
                nonce=meta.get("HTTP_X_KAMEN_NONCE", ""),
                signature=meta.get("HTTP_X_KAMEN_SIGNATURE", ""),
                ip=ip,
                now=time.time(),
                method=request.method,
                path=escape_uri_path(request.path),
                query=meta.get("QUERY_STRING", ""),
                body=request._request.body,
            )
        except SignatureRefused as refused:
            logger.warning("API request refused (%s): key %r from %s", refused.reason, key_id[:40], ip)
            raise exceptions.AuthenticationFailed(f"Signature refused: {refused.reason}.") from None
        return key.user, key

    def authenticate_header(self, request) -> str:
        # Any value makes DRF answer 401 rather than 403 to an unsigned request.
        return "KamenSignature"


class SignedKeyScheme(OpenApiAuthenticationExtension):
    target_class = SignedKeyAuthentication
    name = "signedKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": api_signing.KEY_HEADER,
            "description": (
                f"Every request also carries {api_signing.TIMESTAMP_HEADER}, {api_signing.NONCE_HEADER} and "
                f"{api_signing.SIGNATURE_HEADER}: HMAC-SHA256 over method, path, query, timestamp, nonce and "
                "body hash (see the API page of the member dashboard)."
            ),
        }


class PerKeyThrottle(SimpleRateThrottle):
    """Requests per API key (settings REST_FRAMEWORK's rate "api_key"), counted in the shared cache."""

    scope = "api_key"

    def get_cache_key(self, request, view) -> str:
        return self.cache_format % {"scope": self.scope, "ident": request.auth.key_id}


class ApiView(APIView):
    authentication_classes = [SignedKeyAuthentication]
    permission_classes = [IsAuthenticated]
    throttle_classes = [PerKeyThrottle]


class BalanceView(ApiView):
    @extend_schema(
        summary="Wallet balance",
        responses=inline_serializer(
            "Balance",
            {
                "currency": serializers.CharField(),
                "balance": serializers.DecimalField(max_digits=14, decimal_places=2),
            },
        ),
    )
    def get(self, request):
        wallet = get_or_create_wallet(request.user)
        return Response({"currency": wallet.balance.currency.code, "balance": f"{wallet.balance.amount:.2f}"})
