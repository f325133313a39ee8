"""Assignment rules, runs and explanations as the API shows them."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from highseas.pools.models import Pool
from highseas.routing.models import AssignmentRule, AssignmentRun


class AssignmentRuleSerializer(serializers.ModelSerializer[AssignmentRule]):
    """``conditions`` and ``target`` are checked by ``routing.rules`` on save, which answers
    ``validation_error`` with each problem's JSON path."""

    pool = serializers.PrimaryKeyRelatedField(
        queryset=Pool.objects.all(), required=False, allow_null=True
    )
    conditions = serializers.JSONField(required=False)
    target = serializers.JSONField()

    class Meta:
        model = AssignmentRule
        fields = [
            "id",
            "name",
            "position",
            "pool",
            "is_active",
            "conditions",
            "target",
            "created_by",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["created_by", "created_at", "updated_at"]


class RunInput(serializers.Serializer[None]):
    dry_run = serializers.BooleanField(default=True)
    pool = serializers.PrimaryKeyRelatedField(
        queryset=Pool.objects.all(), required=False, allow_null=True, default=None
    )
    now = serializers.DateTimeField(required=False, allow_null=True, default=None)
    seed = serializers.IntegerField(
        required=False, allow_null=True, default=None, min_value=0, max_value=2**62
    )


class AssignmentRunSerializer(serializers.ModelSerializer[AssignmentRun]):
    class Meta:
        model = AssignmentRun
        fields = [
            "id",
            "started_at",
            "finished_at",
            "now",
            "dry_run",
            "trigger",
            "pool",
            "seed",
            "triggered_by",
            "apply_mode",
            "considered",
            "assigned",
            "unassigned",
            "unassigned_reasons",
            "batches",
            "duration_ms",
        ]
        read_only_fields = fields


class AssignedEntry(serializers.Serializer[Any]):
    customer = serializers.IntegerField()
    customer_name = serializers.CharField()
    owner = serializers.IntegerField()
    owner_name = serializers.CharField()
    rule = serializers.IntegerField()
    explanation = serializers.DictField()


class UnassignedEntry(serializers.Serializer[Any]):
    customer = serializers.IntegerField()
    customer_name = serializers.CharField()
    rule = serializers.IntegerField(allow_null=True)
    reason = serializers.CharField()
    detail = serializers.CharField()
    explanation = serializers.DictField()


class RunResultSerializer(serializers.Serializer[Any]):
    run = serializers.IntegerField()
    dry_run = serializers.BooleanField()
    seed = serializers.IntegerField()
    duration_ms = serializers.FloatField()
    considered = serializers.IntegerField()
    assigned = AssignedEntry(many=True)
    unassigned = UnassignedEntry(many=True)
    unassigned_reasons = serializers.DictField(child=serializers.IntegerField())


class ExplanationSerializer(serializers.Serializer[Any]):
    customer = serializers.IntegerField()
    run = serializers.IntegerField()
    at = serializers.DateTimeField()
    rule = serializers.IntegerField(allow_null=True)
    owner = serializers.IntegerField(allow_null=True)
    outcome = serializers.CharField()
    reason = serializers.CharField()
    explanation = serializers.DictField()
