from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.request import Request
from rest_framework.response import Response

from highseas.api.pagination import KeysetPagination
from highseas.api.serializers.customers import (
    CustomerEditInput,
    CustomerSerializer,
    CustomerUpdateSerializer,
)
from highseas.api.views.base import ViewerContextMixin, viewer_of
from highseas.api.views.collaboration import CommentActions
from highseas.api.views.dedup import DuplicateActions
from highseas.api.views.followups import FollowUpActions
from highseas.api.views.ownership import OwnershipActions
from highseas.api.views.routing import ExplainActions
from highseas.customers.models import Customer
from highseas.customers.search import name_filter
from highseas.engine.bounds import parse_id
from highseas.engine.errors import ErrorCode, HighSeasError
from highseas.intake.registration import register_customer
from highseas.pools.editing import edit_customer
from highseas.pools.listing import listed_customers
from highseas.pools.views_quota import open_customer

LIST_FILTERS = [
    "status",
    "pool",
    "owner",
    "province",
    "city",
    "industry",
    "level",
    "source",
    "stage",
]


@extend_schema_view(
    list=extend_schema(
        parameters=[OpenApiParameter(name, str) for name in LIST_FILTERS]
        + [OpenApiParameter("q", str, description="name contains")]
    ),
)
class CustomerViewSet(
    CommentActions,
    DuplicateActions,
    OwnershipActions,
    FollowUpActions,
    ExplainActions,
    ViewerContextMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet[Customer],
):
    serializer_class = CustomerSerializer
    queryset = Customer.objects.none()

    def get_queryset(self) -> QuerySet[Customer]:
        customers = viewer_of(self.request).customers()
        filters, query = self._filters()
        if query:
            customers = customers.filter(name_filter(query))
        return customers.filter(**filters)

    def _filters(self) -> tuple[dict[str, Any], str]:
        params = self.request.query_params
        filters: dict[str, Any] = {
            f"{name}_id" if name in ("pool", "owner") else name: params[name]
            for name in LIST_FILTERS
            if params.get(name)
        }
        for key in ("pool_id", "owner_id"):
            if key not in filters:
                continue
            filters[key] = parse_id(filters[key])  # an id, as the listing compares pools by id
            if filters[key] is None:
                raise HighSeasError(
                    ErrorCode.VALIDATION_ERROR,
                    _("Filters take numeric ids."),
                    errors={key[:-3]: ["not a number"]},
                )
        return filters, params.get("q") or ""

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """A keyset page of the visible customers: the rows the cursor's page needs are read
        by ``pools.listing.listed_customers`` (branch by branch, on indexes), then paged as
        every list is (the same cursors and links)."""
        filters, query = self._filters()
        status_filter = filters.pop("status", None)
        paginator = self.paginator
        assert isinstance(paginator, KeysetPagination)
        cursor = paginator.decode_cursor(request)
        position = parse_id(cursor.position) if cursor and cursor.position else None
        reverse = bool(cursor and cursor.reverse)
        size = paginator.get_page_size(request) or paginator.page_size
        customers = listed_customers(
            viewer_of(request),
            filters=filters,
            statuses=None if status_filter is None else [status_filter],
            text=query,
            after=None if reverse else position,
            before=position if reverse else None,
            limit=(cursor.offset if cursor else 0) + size + 1,
        )
        page = self.paginate_queryset(customers)
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    def get_object(self) -> Customer:
        lookup = self.kwargs["pk"]
        customer = self.get_queryset().filter(pk=lookup).first() if str(lookup).isdigit() else None
        if customer is None:
            raise HighSeasError(ErrorCode.NOT_FOUND, _("No such customer."))
        return customer

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """One customer in detail; opening a pooled customer counts against the pool's daily
        view limit (``pools.views_quota.open_customer`` decides)."""
        lookup = self.kwargs["pk"]
        if not str(lookup).isdigit():
            raise HighSeasError(ErrorCode.NOT_FOUND, _("No such customer."))
        customer = open_customer(viewer_of(request), int(lookup))
        return Response(self.get_serializer(customer).data)

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        created = register_customer(
            viewer_of(request),
            data,
            owner=data.pop("owner", None),
            pool=data.pop("pool", None),
            entry_point="api",
        )
        body: dict[str, Any] = dict(
            self.get_serializer(created.customer).data
            if created.customer is not None
            else created.public or {}
        )
        if created.note:
            body = {**body, "note": created.note}
        if created.warnings:
            body = {**body, "warnings": created.warnings}
        return Response(body, status=status.HTTP_201_CREATED)

    @extend_schema(request=CustomerUpdateSerializer, responses={200: CustomerSerializer})
    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Edit business fields (``PATCH`` some, ``PUT`` all); the edit service decides."""
        lookup = self.kwargs["pk"]
        if not str(lookup).isdigit():
            raise HighSeasError(ErrorCode.NOT_FOUND, _("No such customer."))
        partial = kwargs.pop("partial", False)
        serializer = CustomerEditInput(data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        edited = edit_customer(viewer_of(request), int(lookup), serializer.validated_data)
        body = self.get_serializer(edited.customer).data
        if edited.warnings:
            body = {**body, "warnings": edited.warnings}
        return Response(body)

    @extend_schema(request=CustomerUpdateSerializer, responses={200: CustomerSerializer})
    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self.update(request, *args, partial=True, **kwargs)
