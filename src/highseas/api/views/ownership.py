"""Ownership actions on a customer: claim, release, assign, transfer, freeze, unfreeze, and
the ledger timeline. Each validates input, calls one service, and answers with the customer."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db.models import QuerySet
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import Serializer

from highseas.api.serializers.customer_answer import customer_answer
from highseas.api.serializers.customers import CustomerSerializer
from highseas.api.serializers.ownership import (
    ClaimInput,
    ClaimRequestSerializer,
    DecisionInput,
    FreezeInput,
    GiveInput,
    OwnershipEventSerializer,
    ReleaseInput,
    UnfreezeInput,
)
from highseas.api.views.base import viewer_of
from highseas.customers import timeline
from highseas.engine.bounds import parse_id
from highseas.engine.errors import ErrorCode, HighSeasError
from highseas.pools import ownership, requests
from highseas.pools.models import ClaimRequest
from highseas.pools.ownership import Outcome


def _valid(serializer_class: type[Serializer[Any]], request: Request) -> dict[str, Any]:
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


def _claim_input(request: Request) -> dict[str, Any]:
    """``ClaimInput``'s validated data. An object without a ``reason`` (the rush's ``{}``)
    validates to ``{"reason": ""}`` whatever else it holds (unknown keys are ignored), so that
    answer is given without building the serializer; any other input goes through it."""
    data = request.data
    if isinstance(data, Mapping) and "reason" not in data:
        return {"reason": ""}
    return _valid(ClaimInput, request)


def _customer_id(raw: str) -> int:
    if (customer_id := parse_id(raw)) is None:
        raise HighSeasError(ErrorCode.NOT_FOUND, _("No such customer."))
    return customer_id


class OwnershipActions(viewsets.GenericViewSet[Any]):
    """Mixed into the customer view set."""

    def _answer(self, outcome: Outcome, request: Request, **beside: Any) -> Response:
        """The customer as the viewer sees it, with ``beside`` keys next to its fields: the
        instance the service moved, whose fields are what its compare-and-set wrote (the row
        is not read again)."""
        body = customer_answer(viewer_of(request), outcome.customer)
        return Response({**body, **beside})

    @extend_schema(
        request=ClaimInput, responses={200: CustomerSerializer, 202: ClaimRequestSerializer}
    )
    @action(detail=True, methods=["post"])
    def claim(self, request: Request, pk: str) -> Response:
        outcome = ownership.claim(
            viewer_of(request).user, _customer_id(pk), **_claim_input(request)
        )
        if outcome.request is not None:
            return Response(
                {
                    "code": ErrorCode.APPROVAL_REQUIRED.value,
                    "detail": _("This pool needs a manager's approval; your request is waiting."),
                    "request": ClaimRequestSerializer(outcome.request).data,
                },
                status=status.HTTP_202_ACCEPTED,
            )
        return self._answer(outcome, request)  # the row the claim's own statement returned

    @extend_schema(request=ReleaseInput, responses={200: CustomerSerializer})
    @action(detail=True, methods=["post"])
    def release(self, request: Request, pk: str) -> Response:
        data = _valid(ReleaseInput, request)
        outcome = ownership.release(
            viewer_of(request).user, _customer_id(pk), reason=data["reason"], to_pool=data["pool"]
        )
        return self._answer(outcome, request)

    @extend_schema(request=GiveInput, responses={200: CustomerSerializer})
    @action(detail=True, methods=["post"])
    def assign(self, request: Request, pk: str) -> Response:
        data = _valid(GiveInput, request)
        outcome = ownership.assign(
            viewer_of(request).user, _customer_id(pk), data.pop("owner"), **data
        )
        return self._answer(outcome, request)

    @extend_schema(request=GiveInput, responses={200: CustomerSerializer})
    @action(detail=True, methods=["post"])
    def transfer(self, request: Request, pk: str) -> Response:
        data = _valid(GiveInput, request)
        outcome = ownership.transfer(
            viewer_of(request).user, _customer_id(pk), data.pop("owner"), **data
        )
        unfrozen = outcome.facts["unfrozen"]
        note = {"note": _("The transfer ended the customer's freeze.")} if unfrozen else {}
        return self._answer(outcome, request, unfrozen=unfrozen, **note)

    @extend_schema(request=FreezeInput, responses={200: CustomerSerializer})
    @action(detail=True, methods=["post"])
    def freeze(self, request: Request, pk: str) -> Response:
        outcome = ownership.freeze(
            viewer_of(request).user, _customer_id(pk), **_valid(FreezeInput, request)
        )
        return self._answer(outcome, request)

    @extend_schema(request=UnfreezeInput, responses={200: CustomerSerializer})
    @action(detail=True, methods=["post"])
    def unfreeze(self, request: Request, pk: str) -> Response:
        outcome = ownership.unfreeze(
            viewer_of(request).user, _customer_id(pk), **_valid(UnfreezeInput, request)
        )
        return self._answer(outcome, request)

    @extend_schema(responses={200: OwnershipEventSerializer(many=True)})
    @action(detail=True, methods=["get"])
    def ownership(self, request: Request, pk: str) -> Response:
        events = timeline.ownership_history(viewer_of(request), _customer_id(pk))
        return Response(OwnershipEventSerializer(events, many=True).data)


class ClaimRequestViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet[ClaimRequest]
):
    """Claims waiting for approval: reps see theirs, managers those of their pools; filter by
    ``state`` and ``customer``."""

    serializer_class = ClaimRequestSerializer
    queryset = ClaimRequest.objects.none()

    def get_queryset(self) -> QuerySet[ClaimRequest]:
        visible = requests.requests_visible_to(viewer_of(self.request))
        if state := self.request.query_params.get("state"):
            visible = visible.filter(state=state)
        if customer := parse_id(self.request.query_params.get("customer", "")):
            visible = visible.filter(customer_id=customer)
        return visible

    @extend_schema(request=DecisionInput, responses={200: ClaimRequestSerializer})
    @action(detail=True, methods=["post"])
    def approve(self, request: Request, pk: str) -> Response:
        decided = requests.approve(
            viewer_of(request).user, _customer_id(pk), **_valid(DecisionInput, request)
        )
        return Response(ClaimRequestSerializer(decided).data)

    @extend_schema(request=DecisionInput, responses={200: ClaimRequestSerializer})
    @action(detail=True, methods=["post"])
    def reject(self, request: Request, pk: str) -> Response:
        decided = requests.reject(
            viewer_of(request).user, _customer_id(pk), **_valid(DecisionInput, request)
        )
        return Response(ClaimRequestSerializer(decided).data)

    @extend_schema(request=None, responses={200: ClaimRequestSerializer})
    @action(detail=True, methods=["post"])
    def withdraw(self, request: Request, pk: str) -> Response:
        """The requester takes back their pending request; it leaves no ledger row."""
        withdrawn = requests.withdraw(viewer_of(request).user, _customer_id(pk))
        return Response(ClaimRequestSerializer(withdrawn).data)
