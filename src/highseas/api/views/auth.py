from __future__ import annotations

from django.contrib.auth import authenticate
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny, BasePermission, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import BaseThrottle, ScopedRateThrottle
from rest_framework.views import APIView

from highseas.accounts import services
from highseas.accounts.models import User
from highseas.engine.errors import ErrorCode, HighSeasError


class CredentialsSerializer(serializers.Serializer[None]):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=128, style={"input_type": "password"})


TokenSerializer = inline_serializer("Token", {"token": serializers.CharField()})


class TokenView(APIView):
    """Exchange a username and password for an API token; DELETE revokes the caller's token."""

    throttle_scope = "login"

    def get_permissions(self) -> list[BasePermission]:
        return [AllowAny()] if self.request.method == "POST" else [IsAuthenticated()]

    def get_throttles(self) -> list[BaseThrottle]:
        return [ScopedRateThrottle()] if self.request.method == "POST" else []

    @extend_schema(request=CredentialsSerializer, responses={200: TokenSerializer})
    def post(self, request: Request) -> Response:
        credentials = CredentialsSerializer(data=request.data)
        credentials.is_valid(raise_exception=True)
        user = authenticate(request._request, **credentials.validated_data)
        if user is None:
            raise HighSeasError(
                ErrorCode.NOT_AUTHENTICATED, "The username or password is not correct."
            )
        return Response({"token": services.issue_token(user)})

    @extend_schema(request=None, responses={204: None})
    def delete(self, request: Request) -> Response:
        user = request.user
        assert isinstance(user, User)
        services.revoke_tokens(user)
        return Response(status=status.HTTP_204_NO_CONTENT)
