"""``/api/v1/insights/`` (SPEC §10, "Insights"): rep figures, fairness, breakdowns, claim
effectiveness, value rescoring and level locks, each read or written by its ``insights``
service for the caller; these views parse and render."""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from highseas.api.views.base import viewer_of
from highseas.insights.breakdowns import GROUPINGS, breakdown, claim_effectiveness
from highseas.insights.limits import explain_limits, plan_report, preview_plan, save_plan
from highseas.insights.performance import MAX_PAGE_SIZE, REP_SORTS, fairness, rep_figures
from highseas.insights.value import lock_level, rescore, unlock_level


class WindowInput(serializers.Serializer[None]):
    since = serializers.DateTimeField(
        required=False, allow_null=True, default=None, help_text="included; default until - 30 days"
    )
    until = serializers.DateTimeField(
        required=False, allow_null=True, default=None, help_text="excluded; default now"
    )


class CachedWindowInput(WindowInput):
    exact = serializers.BooleanField(
        required=False,
        default=False,
        help_text="compute every figure now (the default window serves the slow ones cached)",
    )


def window_of(request: Request) -> dict[str, Any]:
    data = WindowInput(data=request.query_params)
    data.is_valid(raise_exception=True)
    return dict(data.validated_data)


def cached_window_of(request: Request) -> dict[str, Any]:
    data = CachedWindowInput(data=request.query_params)
    data.is_valid(raise_exception=True)
    found = dict(data.validated_data)
    found["cached"] = not found.pop("exact")
    return found


def cached_field() -> serializers.DictField:
    return serializers.DictField(
        required=False,
        help_text="present when figures come from the cache: their names (fields; * for the "
        "whole answer) and when they were computed (computed_at), over the default window "
        "ending then; exact=true computes them now",
    )


class PlainRows(serializers.ListSerializer[Any]):
    """Rows that are dicts holding every field of the row serializer, each field rendered as
    the serializer renders it (None stays None), without its per-field attribute lookup: an
    admin's ``insights/reps`` is 4,000 rows of 12 fields."""

    def to_representation(self, data: Any) -> list[dict[str, Any]]:
        assert isinstance(self.child, serializers.Serializer)
        shown = [(name, field.to_representation) for name, field in self.child.fields.items()]
        return [
            {name: None if (value := row[name]) is None else show(value) for name, show in shown}
            for row in data
        ]


class RepRow(serializers.Serializer[Any]):
    class Meta:
        list_serializer_class = PlainRows

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


class RepFiguresInput(CachedWindowInput):
    sort = serializers.ChoiceField(
        choices=REP_SORTS,
        required=False,
        help_text="rank by a figure or name, - first for the biggest first (empty figures "
        "last; ties by display name); pages the answer",
    )
    page = serializers.IntegerField(
        required=False, min_value=1, help_text="from 1; past the last, the last; pages the answer"
    )
    page_size = serializers.IntegerField(
        required=False,
        min_value=1,
        max_value=MAX_PAGE_SIZE,
        help_text="rows a page (default 20); pages the answer",
    )


class RepFigures(serializers.Serializer[Any]):
    since = serializers.DateTimeField()
    until = serializers.DateTimeField()
    reps = RepRow(many=True)
    count = serializers.IntegerField(help_text="reps in view (on every page)")
    sort = serializers.CharField(required=False, help_text="when paged: the order used")
    page = serializers.IntegerField(required=False, help_text="when paged: this page")
    pages = serializers.IntegerField(required=False, help_text="when paged: how many")
    page_size = serializers.IntegerField(required=False, help_text="when paged: rows a page")
    cached = cached_field()


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


class BouncingCustomer(serializers.Serializer[Any]):
    customer = serializers.IntegerField()
    name = serializers.CharField(help_text="empty where the caller does not see the customer")
    returns = serializers.IntegerField(help_text="released or recycled from reps in the window")
    reps = serializers.IntegerField(help_text="distinct reps it came back from")


class Bouncing(serializers.Serializer[Any]):
    min_returns = serializers.IntegerField()
    total = serializers.IntegerField()
    customers = BouncingCustomer(many=True)


class Fairness(serializers.Serializer[Any]):
    since = serializers.DateTimeField()
    until = serializers.DateTimeField()
    reps = serializers.IntegerField(help_text="reps counted, those with nothing included")
    gini_holdings = serializers.FloatField()
    gini_new = serializers.FloatField(help_text="of claims and assignments in the window")
    gini_claims = serializers.FloatField(help_text="of claims alone in the window")
    hoarding = Hoarding()
    bouncing = Bouncing()
    cached = cached_field()


class BreakdownInput(CachedWindowInput):
    by = serializers.ChoiceField(choices=sorted(GROUPINGS))


class BreakdownGroup(serializers.Serializer[Any]):
    key = serializers.CharField(help_text="source, industry, province, username or team name")
    gains = serializers.IntegerField()
    won = serializers.IntegerField()
    conversion = serializers.FloatField(allow_null=True)
    revenue = serializers.DecimalField(max_digits=20, decimal_places=2)
    median_hours_to_first_contact = serializers.FloatField(allow_null=True)


class Breakdown(serializers.Serializer[Any]):
    since = serializers.DateTimeField()
    until = serializers.DateTimeField()
    by = serializers.CharField()
    groups = BreakdownGroup(many=True)
    cached = cached_field()


class ClaimRow(serializers.Serializer[Any]):
    rep = serializers.IntegerField()
    username = serializers.CharField()
    display_name = serializers.CharField()
    claims = serializers.IntegerField()
    contacted = serializers.IntegerField()
    won = serializers.IntegerField()
    returned = serializers.IntegerField()
    contact_rate = serializers.FloatField(allow_null=True)
    win_rate = serializers.FloatField(allow_null=True)
    return_rate = serializers.FloatField(allow_null=True)


class ClaimEffectiveness(serializers.Serializer[Any]):
    since = serializers.DateTimeField()
    until = serializers.DateTimeField()
    reps = ClaimRow(many=True)
    cached = cached_field()


class LockInput(serializers.Serializer[None]):
    level = serializers.CharField()
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=200)


class LockOutput(serializers.Serializer[Any]):
    customer = serializers.IntegerField()
    level = serializers.CharField()
    locked = serializers.BooleanField()
    reason = serializers.CharField()


class RescoreInput(serializers.Serializer[None]):
    dry_run = serializers.BooleanField(default=False)


class LevelChange(serializers.Serializer[Any]):
    customer = serializers.IntegerField()
    to = serializers.CharField()
    score = serializers.FloatField()
    reason = serializers.CharField(help_text="the figures the score stands on, in words")

    def get_fields(self) -> dict[str, serializers.Field[Any, Any, Any, Any]]:
        fields: dict[str, serializers.Field[Any, Any, Any, Any]] = super().get_fields()
        fields["from"] = serializers.CharField()  # a Python keyword, so declared here
        return fields


class RescoreOutput(serializers.Serializer[Any]):
    dry_run = serializers.BooleanField()
    changes = LevelChange(many=True)


class RepFiguresView(APIView):
    """Per rep the caller may read (admins: every rep; managers: their team subtree; a rep:
    their own row), the figures over ``[since, until)``: every rep by username, or with
    ``sort``, ``page`` or ``page_size`` a ranked page of them."""

    @extend_schema(parameters=[RepFiguresInput], responses={200: RepFigures})
    def get(self, request: Request) -> Response:
        data = RepFiguresInput(data=request.query_params)
        data.is_valid(raise_exception=True)
        found = dict(data.validated_data)
        report = rep_figures(viewer_of(request), cached=not found.pop("exact"), **found)
        return Response(RepFigures(report).data)


class FairnessView(APIView):
    """Gini of holdings and of new customers, and hoarding, over the reps the caller sees
    (admins and managers)."""

    @extend_schema(parameters=[CachedWindowInput], responses={200: Fairness})
    def get(self, request: Request) -> Response:
        report = fairness(viewer_of(request), **cached_window_of(request))
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


class BreakdownView(APIView):
    """The gains of the reps the caller sees over ``[since, until)``, grouped ``by`` first-touch
    source, industry, region, rep or team: gains, won, conversion, revenue, median hours to
    first contact (admins and managers)."""

    @extend_schema(parameters=[BreakdownInput], responses={200: Breakdown})
    def get(self, request: Request) -> Response:
        data = BreakdownInput(data=request.query_params)
        data.is_valid(raise_exception=True)
        found = dict(data.validated_data)
        report = breakdown(viewer_of(request), cached=not found.pop("exact"), **found)
        return Response(Breakdown(report).data)


class ClaimEffectivenessView(APIView):
    """Per rep the caller sees, what became of their claims in ``[since, until)``: contacted,
    won, returned to a pool (admins and managers)."""

    @extend_schema(parameters=[CachedWindowInput], responses={200: ClaimEffectiveness})
    def get(self, request: Request) -> Response:
        report = claim_effectiveness(viewer_of(request), **cached_window_of(request))
        return Response(ClaimEffectiveness(report).data)


class LevelLockView(APIView):
    """Lock a customer's level by hand (re-evaluation leaves it alone) or unlock it (managers
    of the owner and admins)."""

    @extend_schema(request=LockInput, responses={200: LockOutput})
    def post(self, request: Request, pk: int) -> Response:
        data = LockInput(data=request.data)
        data.is_valid(raise_exception=True)
        report = lock_level(viewer_of(request), pk, now=timezone.now(), **data.validated_data)
        return Response(LockOutput(report).data)

    @extend_schema(responses={200: LockOutput})
    def delete(self, request: Request, pk: int) -> Response:
        return Response(LockOutput(unlock_level(viewer_of(request), pk)).data)


class LimitValues(serializers.Serializer[Any]):
    daily_quota = serializers.IntegerField(allow_null=True)
    weekly_quota = serializers.IntegerField(allow_null=True)
    holding_cap = serializers.IntegerField(allow_null=True)


class PlanRep(serializers.Serializer[Any]):
    rep = serializers.IntegerField()
    username = serializers.CharField()
    display_name = serializers.CharField()
    measured = serializers.FloatField(allow_null=True)
    top_percent = serializers.FloatField(allow_null=True)
    multiplier = serializers.DecimalField(max_digits=5, decimal_places=2)
    before = LimitValues()
    after = LimitValues()


class Tier(serializers.Serializer[Any]):
    top_percent = serializers.FloatField()
    multiplier = serializers.FloatField()


class PlanInput(serializers.Serializer[None]):
    is_active = serializers.BooleanField(required=False)
    measure = serializers.CharField(required=False)
    window_days = serializers.IntegerField(required=False)
    tiers = serializers.JSONField(required=False, help_text="[{top_percent, multiplier}, …]")
    ceiling_daily_quota = serializers.IntegerField(required=False, allow_null=True)
    ceiling_weekly_quota = serializers.IntegerField(required=False, allow_null=True)
    ceiling_holding_cap = serializers.IntegerField(required=False, allow_null=True)


class Plan(serializers.Serializer[Any]):
    pool = serializers.IntegerField()
    is_active = serializers.BooleanField()
    measure = serializers.CharField()
    window_days = serializers.IntegerField()
    tiers = Tier(many=True)
    ceiling_daily_quota = serializers.IntegerField(allow_null=True)
    ceiling_weekly_quota = serializers.IntegerField(allow_null=True)
    ceiling_holding_cap = serializers.IntegerField(allow_null=True)
    computed_at = serializers.DateTimeField(allow_null=True)
    reps = PlanRep(many=True)


class MyLimit(serializers.Serializer[Any]):
    pool = serializers.IntegerField()
    pool_name = serializers.CharField()
    multiplier = serializers.DecimalField(max_digits=5, decimal_places=2)
    limits = LimitValues()
    text = serializers.CharField()


def _plan_fields(request: Request) -> dict[str, Any]:
    data = PlanInput(data=request.data)
    data.is_valid(raise_exception=True)
    return dict(data.validated_data)


class LimitPlanView(APIView):
    """A pool's performance-linked limits: the plan and each rep's multiplier and limits
    (GET); save it (PUT; audited, recomputed at once when on). Managers and admins."""

    @extend_schema(responses={200: Plan})
    def get(self, request: Request, pk: int) -> Response:
        return Response(Plan(plan_report(viewer_of(request), pk, now=timezone.now())).data)

    @extend_schema(request=PlanInput, responses={200: Plan})
    def put(self, request: Request, pk: int) -> Response:
        fields = _plan_fields(request)
        report = save_plan(viewer_of(request), pk, fields, now=timezone.now())
        return Response(Plan(report).data)


class LimitPlanPreviewView(APIView):
    """Who would gain or lose how much under a plan, before it is saved (writes nothing)."""

    @extend_schema(request=PlanInput, responses={200: Plan})
    def post(self, request: Request, pk: int) -> Response:
        fields = _plan_fields(request)
        report = preview_plan(viewer_of(request), pk, fields, now=timezone.now())
        return Response(Plan(report).data)


class MyLimitsView(APIView):
    """The caller's limits changed by a performance tier, each with why."""

    @extend_schema(responses={200: MyLimit(many=True)})
    def get(self, request: Request) -> Response:
        return Response(MyLimit(explain_limits(viewer_of(request).user), many=True).data)
