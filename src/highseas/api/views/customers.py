from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer

from highseas.accounts.models import User
from highseas.api.serializers.customers import CustomerSerializer, CustomerUpdateSerializer
from highseas.api.views.base import ViewerContextMixin, viewer_of
from highseas.api.views.dedup import DuplicateActions
from highseas.api.views.followups import FollowUpActions
from highseas.api.views.ownership import OwnershipActions
from highseas.api.views.routing import ExplainActions
from highseas.customers.models import Customer
from highseas.engine.errors import ErrorCode, HighSeasError
from highseas.pools import services

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

    def get_serializer_class(self) -> type[BaseSerializer[Any]]:
        if self.action in ("update", "partial_update"):
            return CustomerUpdateSerializer
        return CustomerSerializer

    def get_queryset(self) -> QuerySet[Customer]:
        customers = viewer_of(self.request).customers()
        params = self.request.query_params
        filters = {
            f"{name}_id" if name in ("pool", "owner") else name: params[name]
            for name in LIST_FILTERS
            if params.get(name)
        }
        for key in ("pool_id", "owner_id"):
            if key in filters and not str(filters[key]).isdigit():
                raise HighSeasError(
                    ErrorCode.VALIDATION_ERROR,
                    _("Filters take numeric ids."),
                    errors={key[:-3]: ["not a number"]},
                )
        if query := params.get("q"):
            customers = customers.filter(name__icontains=query)
        return customers.filter(**filters)

    def get_object(self) -> Customer:
        lookup = self.kwargs["pk"]
        customer = self.get_queryset().filter(pk=lookup).first() if str(lookup).isdigit() else None
        if customer is None:
            raise HighSeasError(ErrorCode.NOT_FOUND, _("No such customer."))
        return customer

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        owner, pool = self._ownership_for(data.pop("owner", None), data.pop("pool", None))
        created = services.create_customer(
            actor=viewer_of(request).user,
            fields=data,
            owner=owner,
            pool=pool,
            entry_point="api",
        )
        body = self.get_serializer(created.customer).data
        if created.note:
            body = {**body, "note": created.note}
        if created.warnings:
            body = {**body, "warnings": created.warnings}
        return Response(body, status=status.HTTP_201_CREATED)

    def _ownership_for(self, owner: User | None, pool: Any) -> tuple[User | None, Any]:
        """Who owns a new customer: a rep owns what they register; admins and managers may
        name an owner they can see, or leave it pooled."""
        viewer = viewer_of(self.request)
        if pool is not None and pool.pk not in viewer.member_pool_ids:
            raise HighSeasError(
                ErrorCode.NOT_POOL_MEMBER, _("You are not a member of that pool."), pool=pool.pk
            )
        if viewer.user.is_admin or viewer.user.is_manager:
            if owner is not None and not viewer.users().filter(pk=owner.pk).exists():
                raise HighSeasError(
                    ErrorCode.PERMISSION_DENIED, _("You cannot give customers to that user.")
                )
            return owner, pool
        if owner is not None and owner.pk != viewer.user.pk:
            raise HighSeasError(
                ErrorCode.PERMISSION_DENIED, _("A rep registers customers for themselves only.")
            )
        return viewer.user, pool

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        customer = self.get_object()
        if not viewer_of(request).sees_in_full(customer):
            raise HighSeasError(ErrorCode.NOT_OWNER, _("Only the owner or their manager may edit."))
        return super().update(request, *args, **kwargs)
