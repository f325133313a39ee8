"""``/api/v1/insights/`` (SPEC §10, "Insights"): rep figures, fairness and value rescoring,
each read or written by its ``insights`` service for the caller; these views parse and render."""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from highseas.api.views.base import viewer_of
from highseas.insights.performance import fairness, rep_figures
from highseas.insights.value import rescore


class WindowInput(serializers.Serializer[None]):
    since = serializers.DateTimeField(
        required=False, allow_null=True, default=None, help_text="included; default until - 30 days"
    )
    until = serializers.DateTimeField(
        required=False, allow_null=True, default=None, help_text="excluded; default now"
    )


def window_of(request: Request) -> dict[str, Any]:
    data = WindowInput(data=request.query_params)
    data.is_valid(raise_exception=True)
    return dict(data.validated_data)


class RepRow(serializers.Serializer[Any]):
    rep = serializers.IntegerField()
    username = serializers.CharField()
    display_name = serializers.CharField()
    holdings = serializers.IntegerField()
    claims = serializers.IntegerField()
    recycled = serializers.IntegerField()
    follow_up_rate = serializers.FloatField(allow_null=True)
    won = serializers.IntegerField()
    lost = serializers.IntegerField()
    win_rate = serializers.FloatField(allow_null=True)
    revenue = serializers.DecimalField(max_digits=20, decimal_places=2)
    median_hours_to_first_contact = serializers.FloatField(allow_null=True)


class RepFigures(serializers.Serializer[Any]):
    since = serializers.DateTimeField()
    until = serializers.DateTimeField()
    reps = RepRow(many=True)


class Hoarder(serializers.Serializer[Any]):
    rep = serializers.IntegerField()
    username = serializers.CharField()
    display_name = serializers.CharField()
    holdings = serializers.IntegerField()
    hoarded = serializers.IntegerField()


class Hoarding(serializers.Serializer[Any]):
    days = serializers.IntegerField()
    total = serializers.IntegerField()
    reps = Hoarder(many=True)


class Fairness(serializers.Serializer[Any]):
    since = serializers.DateTimeField()
    until = serializers.DateTimeField()
    reps = serializers.IntegerField(help_text="reps counted, those with nothing included")
    gini_holdings = serializers.FloatField()
    gini_new = serializers.FloatField(help_text="of claims and assignments in the window")
    hoarding = Hoarding()


class RescoreInput(serializers.Serializer[None]):
    dry_run = serializers.BooleanField(default=False)


class LevelChange(serializers.Serializer[Any]):
    customer = serializers.IntegerField()
    to = serializers.CharField()
    score = serializers.FloatField()

    def get_fields(self) -> dict[str, serializers.Field[Any, Any, Any, Any]]:
        fields: dict[str, serializers.Field[Any, Any, Any, Any]] = super().get_fields()
        fields["from"] = serializers.CharField()  # a Python keyword, so declared here
        return fields


class RescoreOutput(serializers.Serializer[Any]):
    dry_run = serializers.BooleanField()
    changes = LevelChange(many=True)


class RepFiguresView(APIView):
    """Per rep the caller may read (admins: every rep; managers: their team subtree; a rep:
    their own row), the figures over ``[since, until)``."""

    @extend_schema(parameters=[WindowInput], responses={200: RepFigures})
    def get(self, request: Request) -> Response:
        report = rep_figures(viewer_of(request), **window_of(request))
        return Response(RepFigures(report).data)


class FairnessView(APIView):
    """Gini of holdings and of new customers, and hoarding, over the reps the caller sees
    (admins and managers)."""

    @extend_schema(parameters=[WindowInput], responses={200: Fairness})
    def get(self, request: Request) -> Response:
        report = fairness(viewer_of(request), **window_of(request))
        return Response(Fairness(report).data)


class RescoreView(APIView):
    """Re-evaluate value → level for the customers the caller may rescore (admins: all;
    managers: their team subtree's), or preview it with ``dry_run``; returns the changes."""

    @extend_schema(request=RescoreInput, responses={200: RescoreOutput})
    def post(self, request: Request) -> Response:
        data = RescoreInput(data=request.data)
        data.is_valid(raise_exception=True)
        report = rescore(viewer_of(request), now=timezone.now(), **data.validated_data)
        return Response(RescoreOutput(report).data)
