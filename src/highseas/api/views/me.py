from __future__ import annotations

from django.db.models import Count, Q
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from highseas.accounts.models import User
from highseas.customers.choices import CustomerStatus
from highseas.pools.quotas import standings

MeSerializer = inline_serializer(
    "Me",
    {
        "id": serializers.IntegerField(),
        "username": serializers.CharField(),
        "display_name": serializers.CharField(),
        "role": serializers.CharField(),
        "team": serializers.IntegerField(allow_null=True),
        "holdings": serializers.IntegerField(),
        "frozen": serializers.IntegerField(),
        "pools": serializers.ListField(child=serializers.DictField()),
    },
)


class MeView(APIView):
    """Who I am, what I hold, and per pool my cap and the claims I have left."""

    @extend_schema(responses={200: MeSerializer})
    def get(self, request: Request) -> Response:
        user = request.user
        assert isinstance(user, User)
        counts = user.customers.aggregate(
            holdings=Count("id"), frozen=Count("id", filter=Q(status=CustomerStatus.FROZEN))
        )
        return Response(
            {
                "id": user.pk,
                "username": user.username,
                "display_name": user.label,
                "role": user.role,
                "team": user.team_id,
                **counts,
                "pools": standings(user),
            }
        )
