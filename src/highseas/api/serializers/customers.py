from __future__ import annotations

from typing import Any

from rest_framework import serializers

from highseas.accounts.models import User
from highseas.accounts.visibility import Viewer
from highseas.customers.models import Customer
from highseas.pools.editing import EDITABLE_FIELDS, PROTECTED_FIELDS
from highseas.pools.models import Pool

BUSINESS_FIELDS = list(EDITABLE_FIELDS)
OWNERSHIP_FIELDS = [
    "status",
    "owner",
    "owner_name",
    "pool",
    "pool_name",
    "owned_since",
    "frozen_until",
    "last_effective_activity_at",
    "recycle_due_at",
    "warn_at",
    "previous_owner",
]


class CustomerSerializer(serializers.ModelSerializer[Customer]):
    """A customer as the caller may see it: masked fields are masked here, server-side."""

    owner = serializers.PrimaryKeyRelatedField(
        queryset=User.objects.all(), required=False, allow_null=True
    )
    pool = serializers.PrimaryKeyRelatedField(
        queryset=Pool.objects.all(), required=False, allow_null=True
    )
    owner_name = serializers.SerializerMethodField()
    pool_name = serializers.SerializerMethodField()
    masked_fields = serializers.SerializerMethodField()

    class Meta:
        model = Customer
        fields = [
            "id",
            *BUSINESS_FIELDS,
            *OWNERSHIP_FIELDS,
            "masked_fields",
            "created_by",
            "created_at",
            "updated_at",
        ]
        read_only_fields = [f for f in OWNERSHIP_FIELDS if f not in ("owner", "pool")] + [
            "created_by",
            "created_at",
            "updated_at",
        ]

    def get_owner_name(self, customer: Customer) -> str | None:
        return customer.owner.label if customer.owner else None

    def get_pool_name(self, customer: Customer) -> str | None:
        return customer.pool.name if customer.pool else None

    def get_masked_fields(self, customer: Customer) -> list[str]:
        return sorted(self._viewer.masked_fields(customer))

    @property
    def _viewer(self) -> Viewer:
        viewer: Viewer = self.context["viewer"]
        return viewer

    def validate_tags(self, tags: Any) -> list[str]:
        if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
            raise serializers.ValidationError("Use a list of strings.")
        return tags

    def validate_custom_fields(self, values: Any) -> dict[str, Any]:
        if not isinstance(values, dict):
            raise serializers.ValidationError("Use an object.")
        return values

    def to_representation(self, instance: Customer) -> dict[str, Any]:
        return self._viewer.mask(instance, super().to_representation(instance))


class CustomerUpdateSerializer(serializers.ModelSerializer[Customer]):
    """The body of an edit, as documented: business fields only."""

    class Meta:
        model = Customer
        fields = list(EDITABLE_FIELDS)


class CustomerEditInput(CustomerUpdateSerializer):
    """The body of an edit, as parsed: any ownership field sent is passed on as sent, for the
    edit service to refuse by name (DRF would silently drop a read-only field)."""

    def get_fields(self) -> dict[str, serializers.Field[Any, Any, Any, Any]]:
        fields = super().get_fields()
        for name in PROTECTED_FIELDS:
            fields[name] = serializers.JSONField(required=False, allow_null=True, write_only=True)
        return fields
