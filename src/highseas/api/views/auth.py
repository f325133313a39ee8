"""Sign-in for the API (SPEC §10): a token per device; the caller's devices; revocation."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.permissions import AllowAny, BasePermission, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from highseas.accounts import services
from highseas.accounts.lockout import sign_in
from highseas.accounts.models import ApiToken, User


class DeviceTokenScheme(OpenApiAuthenticationExtension):  # type: ignore[no-untyped-call]
    """``Authorization: Token <secret>`` in the OpenAPI schema."""

    target_class = "highseas.accounts.tokens.DeviceTokenAuthentication"
    name = "tokenAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "Token-based authentication: `Token <token>`.",
        }


class CredentialsSerializer(serializers.Serializer[None]):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=128, style={"input_type": "password"})
    device = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")


TokenSerializer = inline_serializer(
    "Token",
    {
        "token": serializers.CharField(),
        "id": serializers.IntegerField(),
        "expiry": serializers.DateTimeField(allow_null=True),
    },
)


class DeviceSerializer(serializers.ModelSerializer[ApiToken]):
    """One device's token, never its secret."""

    class Meta:
        model = ApiToken
        fields = ["id", "device", "created", "expiry", "last_used"]
        read_only_fields = fields


def _address(request: Request) -> str | None:
    return request.META.get("REMOTE_ADDR") or None


def _caller(request: Request) -> User:
    user = request.user
    assert isinstance(user, User)
    return user


class TokenView(APIView):
    """Exchange a username and password for a new token of this device; DELETE revokes the
    calling token. Failed sign-ins are counted per username and per address
    (``login_locked`` once locked); successful ones are never limited."""

    def get_permissions(self) -> list[BasePermission]:
        return [AllowAny()] if self.request.method == "POST" else [IsAuthenticated()]

    @extend_schema(request=CredentialsSerializer, responses={200: TokenSerializer})
    def post(self, request: Request) -> Response:
        credentials = CredentialsSerializer(data=request.data)
        credentials.is_valid(raise_exception=True)
        data = credentials.validated_data
        user = sign_in(request._request, username=data["username"], password=data["password"])
        token, secret = services.issue_token(
            user, device=data.get("device", ""), address=_address(request)
        )
        expiry = token.expiry and serializers.DateTimeField().to_representation(token.expiry)
        return Response({"token": secret, "id": token.pk, "expiry": expiry})

    @extend_schema(request=None, responses={204: None})
    def delete(self, request: Request) -> Response:
        user = _caller(request)
        token = request.auth
        if isinstance(token, ApiToken):
            services.revoke_token(user, token.pk, address=_address(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


class DeviceTokenViewSet(mixins.ListModelMixin, viewsets.GenericViewSet[ApiToken]):
    """The caller's devices (``GET``) and revoking one of them (``DELETE {id}``)."""

    serializer_class = DeviceSerializer
    queryset = ApiToken.objects.none()

    def get_queryset(self) -> QuerySet[ApiToken]:
        return services.tokens_of(_caller(self.request))

    @extend_schema(request=None, responses={204: None})
    def destroy(self, request: Request, pk: str | None = None) -> Response:
        services.revoke_token(_caller(request), pk, address=_address(request))
        return Response(status=status.HTTP_204_NO_CONTENT)
