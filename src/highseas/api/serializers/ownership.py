from __future__ import annotations

from rest_framework import serializers

from highseas.accounts.models import User
from highseas.pools.models import ClaimRequest, OwnershipEvent, Pool
from highseas.routing.explain import ledger_actor_name


class ClaimInput(serializers.Serializer[None]):
    reason = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")


class ReleaseInput(serializers.Serializer[None]):
    reason = serializers.CharField(max_length=300)
    pool = serializers.PrimaryKeyRelatedField(
        queryset=Pool.objects.all(), required=False, allow_null=True, default=None
    )


class GiveInput(serializers.Serializer[None]):
    owner = serializers.PrimaryKeyRelatedField(queryset=User.objects.all())
    override_cap = serializers.BooleanField(required=False, default=False)
    reason = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")


class FreezeInput(serializers.Serializer[None]):
    until = serializers.DateTimeField()
    reason = serializers.CharField(max_length=300)


class UnfreezeInput(serializers.Serializer[None]):
    reason = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")


class DecisionInput(serializers.Serializer[None]):
    note = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")


def _name(user: User | None) -> str | None:
    return user.label if user else None


class OwnershipEventSerializer(serializers.ModelSerializer[OwnershipEvent]):
    """One ledger row as a timeline entry, with names beside the ids; ``reason`` in the
    request's language, with its code and parameters (empty for a person's own words)."""

    reason = serializers.CharField(source="reason_text", read_only=True)
    from_owner_name = serializers.SerializerMethodField()
    to_owner_name = serializers.SerializerMethodField()
    from_pool_name = serializers.SerializerMethodField()
    to_pool_name = serializers.SerializerMethodField()
    actor = serializers.CharField(source="actor_label")
    actor_name = serializers.SerializerMethodField()

    class Meta:
        model = OwnershipEvent
        fields = [
            "id",
            "kind",
            "from_status",
            "to_status",
            "from_owner",
            "from_owner_name",
            "to_owner",
            "to_owner_name",
            "from_pool",
            "from_pool_name",
            "to_pool",
            "to_pool_name",
            "actor",
            "actor_name",
            "reason",
            "reason_code",
            "reason_params",
            "policy_ref",
            "at",
        ]

    def get_from_owner_name(self, event: OwnershipEvent) -> str | None:
        return _name(event.from_owner)

    def get_to_owner_name(self, event: OwnershipEvent) -> str | None:
        return _name(event.to_owner)

    def get_actor_name(self, event: OwnershipEvent) -> str | None:
        """The person who acted, or the assignment rule by name (``actor`` is its label)."""
        return ledger_actor_name(event.actor, event.actor_label)

    def get_from_pool_name(self, event: OwnershipEvent) -> str | None:
        return event.from_pool.name if event.from_pool else None

    def get_to_pool_name(self, event: OwnershipEvent) -> str | None:
        return event.to_pool.name if event.to_pool else None


class ClaimRequestSerializer(serializers.ModelSerializer[ClaimRequest]):
    customer_name = serializers.CharField(source="customer.name", read_only=True)
    requester_name = serializers.SerializerMethodField()
    reason = serializers.CharField(source="reason_text", read_only=True)

    class Meta:
        model = ClaimRequest
        fields = [
            "id",
            "customer",
            "customer_name",
            "requester",
            "requester_name",
            "reason",
            "state",
            "decided_by",
            "decided_at",
            "decision_note",
            "expires_at",
            "created_at",
        ]
        read_only_fields = fields

    def get_requester_name(self, request: ClaimRequest) -> str:
        return request.requester.label
