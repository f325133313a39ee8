"""Imports (SPEC §10, "API essentials, second part"): the upload and the job's answer."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from highseas.intake.models import ImportJob


class ImportInput(serializers.Serializer[None]):
    file = serializers.FileField()
    pool = serializers.IntegerField()
    mapping = serializers.JSONField(binary=True, required=False, default=None)
    dry_run = serializers.BooleanField(default=True)
    on_duplicate = serializers.ChoiceField(
        choices=ImportJob.OnDuplicate.values, default=ImportJob.OnDuplicate.BLOCK
    )
    history = serializers.BooleanField(required=False, allow_null=True, default=None)
    override_cap = serializers.BooleanField(default=False)


class DuplicateRow(serializers.Serializer[dict[str, Any]]):
    line = serializers.IntegerField()
    action = serializers.CharField()
    customer = serializers.IntegerField(allow_null=True)
    duplicate_line = serializers.IntegerField(allow_null=True)
    holder = serializers.CharField()


class ErrorRow(serializers.Serializer[dict[str, Any]]):
    line = serializers.IntegerField()
    code = serializers.CharField()
    detail = serializers.CharField()


class ImportOutput(serializers.Serializer[dict[str, Any]]):
    id = serializers.IntegerField()
    status = serializers.ChoiceField(choices=ImportJob.Status.values)
    file_name = serializers.CharField()
    pool = serializers.IntegerField()
    on_duplicate = serializers.CharField()
    mapping = serializers.DictField(child=serializers.CharField())
    total = serializers.IntegerField()
    done = serializers.IntegerField()
    created = serializers.IntegerField()
    skipped = serializers.IntegerField()
    merged = serializers.IntegerField()
    assigned = serializers.IntegerField()
    duplicates = DuplicateRow(many=True)
    errors = ErrorRow(many=True)  # type: ignore[assignment]  # a field, not .errors
    error = serializers.DictField()


class ImportRowOutput(serializers.Serializer[Any]):
    line = serializers.IntegerField()
    values = serializers.DictField(child=serializers.CharField())
    action = serializers.CharField()
    code = serializers.CharField()
    detail = serializers.CharField()
    duplicate_of = serializers.IntegerField(source="duplicate_of_id", allow_null=True)
    duplicate_line = serializers.IntegerField(allow_null=True)
    holder = serializers.CharField()
    owner = serializers.IntegerField(source="owner_id", allow_null=True)
    routed = serializers.BooleanField()
    customer = serializers.IntegerField(source="customer_id", allow_null=True)
    is_done = serializers.BooleanField()


class ImportRowsInput(serializers.Serializer[None]):
    after_line = serializers.IntegerField(min_value=0, default=0)
    limit = serializers.IntegerField(min_value=1, max_value=1000, default=200)
