from __future__ import annotations

from typing import Any

from rest_framework import serializers

from highseas.accounts.models import Team, User
from highseas.customers.choices import ActivityKind, CustomerLevel
from highseas.engine.bounds import policy_errors
from highseas.pools.models import ClaimPolicy, Pool, RecycleDestination, RecyclePolicy
from highseas.pools.policies import level_override_errors

MASKABLE_FIELDS = {"phone", "email", "address", "credit_code", "contacts"}
DUPLICATE_POLICY_VALUES = {"block", "warn", "allow"}
DUPLICATE_ENTRY_POINTS = {"manual", "api", "import"}


class ClaimPolicySerializer(serializers.ModelSerializer[ClaimPolicy]):
    class Meta:
        model = ClaimPolicy
        exclude = ["id", "pool", "updated_at"]

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if errors := policy_errors(attrs):
            raise serializers.ValidationError(errors)
        return attrs


class RecyclePolicySerializer(serializers.ModelSerializer[RecyclePolicy]):
    class Meta:
        model = RecyclePolicy
        exclude = ["id", "pool", "updated_at"]

    def validate_effective_activity_kinds(self, kinds: Any) -> list[str]:
        if not isinstance(kinds, list) or not set(kinds) <= set(ActivityKind.values):
            raise serializers.ValidationError(f"Use a list of: {', '.join(ActivityKind.values)}.")
        return kinds

    def validate_exempt_levels(self, levels: Any) -> list[str]:
        if not isinstance(levels, list) or not set(levels) <= set(CustomerLevel.values):
            raise serializers.ValidationError("Use a list of levels A, B, C.")
        return levels

    def validate_level_overrides(self, overrides: Any) -> dict[str, dict[str, int | None]]:
        if errors := level_override_errors(overrides):
            raise serializers.ValidationError(errors)
        result: dict[str, dict[str, int | None]] = overrides
        return result

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if errors := policy_errors(attrs):
            raise serializers.ValidationError(errors)
        if attrs.get("destination") == RecycleDestination.OTHER_POOL and not attrs.get(
            "destination_pool"
        ):
            raise serializers.ValidationError({"destination_pool": ["Name the pool."]})
        return attrs


class PoolSerializer(serializers.ModelSerializer[Pool]):
    claim_policy = ClaimPolicySerializer(required=False)
    recycle_policy = RecyclePolicySerializer(required=False)
    member_teams = serializers.PrimaryKeyRelatedField(
        many=True, required=False, queryset=Team.objects.all()
    )
    member_users = serializers.PrimaryKeyRelatedField(
        many=True, required=False, queryset=User.objects.all()
    )
    admins = serializers.PrimaryKeyRelatedField(
        many=True, required=False, queryset=User.objects.all()
    )

    class Meta:
        model = Pool
        fields = [
            "id",
            "name",
            "description",
            "member_teams",
            "member_users",
            "admins",
            "masked_fields",
            "duplicate_policy",
            "is_default",
            "claim_policy",
            "recycle_policy",
            "created_at",
        ]
        read_only_fields = ["created_at"]

    def validate_masked_fields(self, fields: Any) -> list[str]:
        if not isinstance(fields, list) or not set(fields) <= MASKABLE_FIELDS:
            raise serializers.ValidationError(
                f"Use a list of: {', '.join(sorted(MASKABLE_FIELDS))}."
            )
        return fields

    def validate_duplicate_policy(self, policy: Any) -> dict[str, str]:
        if (
            not isinstance(policy, dict)
            or not set(policy) <= DUPLICATE_ENTRY_POINTS
            or not set(policy.values()) <= DUPLICATE_POLICY_VALUES
        ):
            raise serializers.ValidationError(
                'Use {"manual"|"api"|"import": "block"|"warn"|"allow"}.'
            )
        return policy
