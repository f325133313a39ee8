"""``/api/v1/assignment-rules/`` (CRUD), ``/api/v1/assignment-runs/`` (run, preview, history)
and ``/api/v1/customers/{id}/explain/`` (why a customer went where it went). Each view
validates input and calls ``highseas.routing``; the rules live there."""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer

from highseas.accounts.visibility import Viewer
from highseas.api.serializers.routing import (
    AssignmentRuleSerializer,
    AssignmentRunSerializer,
    ExplanationSerializer,
    RunInput,
    RunResultSerializer,
)
from highseas.api.views.base import viewer_of
from highseas.engine.errors import ErrorCode, HighSeasError
from highseas.pools.models import Pool
from highseas.pools.moments import require_allowed_moment
from highseas.routing import rules
from highseas.routing.explain import render, render_decisions, rep_names
from highseas.routing.models import AssignmentRule, AssignmentRun
from highseas.routing.runs import RunResult
from highseas.routing.services import latest_decision, run_assignment


class AssignmentRuleViewSet(viewsets.ModelViewSet[AssignmentRule]):
    """Ordered assignment rules; admins manage all, managers those of their pools."""

    serializer_class = AssignmentRuleSerializer
    queryset = AssignmentRule.objects.none()

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        rules.require_rule_manager(viewer_of(request))

    def get_queryset(self) -> QuerySet[AssignmentRule]:
        return rules.rules_visible_to(viewer_of(self.request))

    def get_object(self) -> AssignmentRule:
        lookup = str(self.kwargs["pk"])
        rule = self.get_queryset().filter(pk=lookup).first() if lookup.isdigit() else None
        if rule is None:
            raise HighSeasError(ErrorCode.NOT_FOUND, _("No such assignment rule."))
        return rule

    def perform_create(self, serializer: BaseSerializer[AssignmentRule]) -> None:
        serializer.instance = rules.save_rule(
            viewer_of(self.request), None, dict(serializer.validated_data)
        )

    def perform_update(self, serializer: BaseSerializer[AssignmentRule]) -> None:
        assert serializer.instance is not None
        serializer.instance = rules.save_rule(
            viewer_of(self.request), serializer.instance, dict(serializer.validated_data)
        )

    def perform_destroy(self, instance: AssignmentRule) -> None:
        rules.delete_rule(viewer_of(self.request), instance)


def _run_pool(viewer: Viewer, pool: Pool | None) -> Pool | None:
    """Admins run any pool or all; managers name a pool they belong to."""
    if viewer.is_admin:
        return pool
    if pool is None:
        raise HighSeasError(
            ErrorCode.VALIDATION_ERROR,
            _("Name the pool to run the rules on."),
            errors={"pool": ["required"]},
        )
    if pool.pk not in viewer.member_pool_ids:
        raise HighSeasError(ErrorCode.NOT_POOL_MEMBER, _("You are not a member of that pool."))
    return pool


def result_body(result: RunResult) -> dict[str, Any]:
    """The run's answer: who got what and why, and what stayed pooled and why."""
    rendered, names = render_decisions(result.decisions)
    assigned, unassigned = [], []
    for decision, explanation in zip(result.decisions, rendered, strict=True):
        entry = {
            "customer": decision.customer_id,
            "customer_name": result.customer_names.get(decision.customer_id, ""),
            "rule": decision.rule_id,
            "explanation": explanation,
        }
        if decision.owner_id is not None:
            owner = {"owner": decision.owner_id, "owner_name": names.get(decision.owner_id, "")}
            assigned.append({**entry, **owner})
        else:
            detail = {"reason": decision.reason, "detail": explanation["summary"]}
            unassigned.append({**entry, **detail})
    run = result.run
    return {
        "run": run.pk,
        "dry_run": run.dry_run,
        "seed": run.seed,
        "duration_ms": run.duration_ms,
        "considered": run.considered,
        "assigned": assigned,
        "unassigned": unassigned,
        "unassigned_reasons": run.unassigned_reasons,
    }


class AssignmentRunViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet[AssignmentRun]
):
    """Run the rules (or preview them with ``dry_run``) over a pool's backlog; the history of
    runs. A real run at another ``now`` needs ``HIGHSEAS_ALLOW_TIME_TRAVEL=1``."""

    serializer_class = AssignmentRunSerializer
    queryset = AssignmentRun.objects.none()

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        rules.require_rule_manager(viewer_of(request))

    def get_queryset(self) -> QuerySet[AssignmentRun]:
        viewer = viewer_of(self.request)
        runs = AssignmentRun.objects.all()
        if viewer.is_admin:
            return runs
        return runs.filter(Q(pool_id__in=viewer.member_pool_ids) | Q(triggered_by=viewer.user))

    @extend_schema(request=RunInput, responses={200: RunResultSerializer})
    def create(self, request: Request) -> Response:
        viewer = viewer_of(request)
        data = RunInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        require_allowed_moment(values["now"], dry_run=values["dry_run"], job="run")
        result = run_assignment(
            viewer.user,
            pool=_run_pool(viewer, values["pool"]),
            dry_run=values["dry_run"],
            now=values["now"],
            seed=values["seed"],
        )
        return Response(result_body(result), status=status.HTTP_200_OK)


class ExplainActions(viewsets.GenericViewSet[Any]):
    """Mixed into the customer view set: ``GET /customers/{id}/explain/``."""

    @extend_schema(responses={200: ExplanationSerializer})
    @action(detail=True, methods=["get"])
    def explain(self, request: Request, pk: str) -> Response:
        customer = self.get_object()
        decision = latest_decision(customer.pk)
        if decision is None:
            raise HighSeasError(
                ErrorCode.NOT_FOUND, _("No assignment rule has decided about this customer yet.")
            )
        viewer = viewer_of(request)
        explanation = render(decision.explanation, rep_names([decision.explanation]))
        if not rules.may_manage_rules(viewer):  # a rep sees their own standing, not colleagues'
            explanation["candidates"] = [
                c for c in explanation["candidates"] if c["rep"] == viewer.user.pk
            ]
        return Response(
            {
                "customer": customer.pk,
                "run": decision.run_id,
                "at": decision.at,
                "rule": decision.rule_id,
                "owner": decision.owner_id,
                "outcome": decision.outcome,
                "reason": decision.reason,
                "explanation": explanation,
            }
        )
