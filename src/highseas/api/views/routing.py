"""``/api/v1/assignment-rules/`` (CRUD), ``/api/v1/assignment-runs/`` (run, preview, history)
and ``/api/v1/customers/{id}/explain/`` (why a customer went where it went). Each view
validates input and calls ``highseas.routing``; the rules live there."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer

from highseas.api.serializers.routing import (
    AssignmentRuleSerializer,
    AssignmentRunSerializer,
    ExplanationSerializer,
    RunInput,
    RunResultSerializer,
)
from highseas.api.views.base import viewer_of
from highseas.engine.errors import ErrorCode, HighSeasError
from highseas.routing import queries, rules
from highseas.routing.explain import render_decisions
from highseas.routing.models import AssignmentRule, AssignmentRun
from highseas.routing.runs import RunResult


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
        return queries.runs_visible_to(viewer_of(self.request))

    @extend_schema(request=RunInput, responses={200: RunResultSerializer})
    def create(self, request: Request) -> Response:
        data = RunInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        result = queries.assignment_run(
            viewer_of(request),
            pool=values["pool"],
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
        if not str(pk).isdigit():
            raise HighSeasError(ErrorCode.NOT_FOUND, _("No such customer."))
        return Response(queries.explanation(viewer_of(request), int(pk)))
