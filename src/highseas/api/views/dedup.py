"""Duplicate check, merge, unmerge and reveal of a customer.

Mixed into the customer view set. Each action validates input, calls one service, and
answers; the services decide (``pools.dedup``, ``pools.merge``, ``pools.unmerge``,
``accounts.reveal``).
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer

from highseas.accounts.reveal import reveal as reveal_field
from highseas.api.serializers.customers import CustomerSerializer
from highseas.api.serializers.dedup import (
    DuplicateCheckInput,
    DuplicateCheckSerializer,
    MergeInput,
    MergeRecordSerializer,
    MergeResultSerializer,
    RevealInput,
    RevealSerializer,
    UnmergeInput,
)
from highseas.api.views.base import viewer_of
from highseas.customers.models import CustomerMerge
from highseas.engine.duplicates import EntryPoint
from highseas.pools import lookups
from highseas.pools.merge import merge as merge_customers
from highseas.pools.services import default_pool
from highseas.pools.unmerge import unmerge as unmerge_customers


def _valid(serializer_class: type[BaseSerializer[Any]], request: Request) -> dict[str, Any]:
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


class DuplicateActions(viewsets.GenericViewSet[Any]):
    """``customers/check-duplicates/``, ``{id}/merge/``, ``{id}/unmerge/``, ``{id}/reveal/``.
    Edits (``PUT``/``PATCH``) go through ``pools.editing``, which screens them like creates."""

    @extend_schema(request=DuplicateCheckInput, responses={200: DuplicateCheckSerializer})
    @action(detail=False, methods=["post"], url_path="check-duplicates")
    def check_duplicates(self, request: Request) -> Response:
        """Who already has this customer? Matches show basic fields, holder and status. A
        phone, e-mail or credit code makes it an exact lookup, limited per user per hour."""
        data = _valid(DuplicateCheckInput, request)
        pool = data.pop("pool") or default_pool()
        entry_point = EntryPoint(data.pop("entry_point"))
        answer = lookups.check_duplicates(
            viewer_of(request),
            data,
            pool=pool,
            entry_point=entry_point,
            address=request.META.get("REMOTE_ADDR") or None,
        )
        return Response(answer)

    def _merge_answer(self, request: Request, record: CustomerMerge) -> Response:
        survivor = self.get_queryset().filter(pk=record.survivor_id).first() or record.survivor
        context = {"viewer": viewer_of(request), "request": request}
        return Response(
            {
                "customer": CustomerSerializer(survivor, context=context).data,
                "merge": MergeRecordSerializer(record).data,
            }
        )

    @extend_schema(request=MergeInput, responses={200: MergeResultSerializer})
    @action(detail=True, methods=["post"])
    def merge(self, request: Request, pk: str) -> Response:
        """Merge ``other`` into this customer (managers and admins); undoable for 30 days."""
        survivor = self.get_object()
        data = _valid(MergeInput, request)
        record = merge_customers(
            viewer_of(request).user, survivor.pk, data["other"].pk, fields=data["fields"]
        )
        return self._merge_answer(request, record)

    @extend_schema(request=UnmergeInput, responses={200: MergeResultSerializer})
    @action(detail=True, methods=["post"])
    def unmerge(self, request: Request, pk: str) -> Response:
        """Undo a merge into this customer within its retention window."""
        survivor = self.get_object()
        other = _valid(UnmergeInput, request)["other"]
        record = unmerge_customers(
            viewer_of(request).user, survivor.pk, other.pk if other else None
        )
        return self._merge_answer(request, record)

    @extend_schema(request=RevealInput, responses={200: RevealSerializer})
    @action(detail=True, methods=["post"])
    def reveal(self, request: Request, pk: str) -> Response:
        """The clear value of a masked field, for those who may; every reveal is logged."""
        customer = self.get_object()
        field = _valid(RevealInput, request)["field"]
        value = reveal_field(viewer_of(request), customer, field)
        return Response({"field": field, "value": value})
