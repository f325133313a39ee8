"""Shapes of the duplicate check, merge, reveal and public search (SPEC §8)."""

from __future__ import annotations

from rest_framework import serializers

from highseas.accounts.reveal import REVEALABLE_FIELDS
from highseas.api.serializers.customers import CustomerSerializer
from highseas.customers.choices import CustomerKind
from highseas.customers.models import Customer, CustomerMerge
from highseas.customers.public import PublicStatus
from highseas.engine.duplicates import EntryPoint, MatchKind
from highseas.pools.models import Pool


class DuplicateCheckInput(serializers.Serializer[None]):
    name = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    kind = serializers.ChoiceField(
        choices=CustomerKind.choices, required=False, default=CustomerKind.COMPANY
    )
    phone = serializers.CharField(max_length=40, required=False, allow_blank=True, default="")
    email = serializers.CharField(max_length=254, required=False, allow_blank=True, default="")
    credit_code = serializers.CharField(max_length=40, required=False, allow_blank=True, default="")
    pool = serializers.PrimaryKeyRelatedField(
        queryset=Pool.objects.all(), required=False, allow_null=True, default=None
    )
    entry_point = serializers.ChoiceField(
        choices=[e.value for e in EntryPoint], required=False, default=EntryPoint.MANUAL.value
    )


class PublicCustomerSerializer(serializers.Serializer[None]):
    """A customer as anyone may see it: id, the configured basic fields, the status.
    (The basic fields are settings-driven; the schema lists the defaults.)"""

    id = serializers.IntegerField()
    name = serializers.CharField()
    province = serializers.CharField(required=False)
    city = serializers.CharField(required=False)
    industry = serializers.CharField(required=False)
    level = serializers.CharField(required=False)
    status = serializers.ChoiceField(choices=[status.value for status in PublicStatus])


class DuplicateMatchSerializer(PublicCustomerSerializer):
    # The same choices as above; a second component using the enum would make the schema
    # generator's enum naming collide with the ownership ``status``.
    status = serializers.CharField(help_text="unassigned, owned, frozen or recycled")  # type: ignore[assignment]
    holder = serializers.CharField(allow_null=True, help_text="owner's name, or the pool's")
    match = serializers.ChoiceField(choices=[k.value for k in MatchKind])
    matched_on = serializers.ListField(child=serializers.CharField())
    score = serializers.FloatField()


class DuplicateCheckSerializer(serializers.Serializer[None]):
    decision = serializers.ChoiceField(
        choices=["block", "warn", "ok"],
        help_text="what creating these fields through the entry point would do",
    )
    matches = DuplicateMatchSerializer(many=True)


class SearchPageSerializer(serializers.Serializer[None]):
    results = PublicCustomerSerializer(many=True)
    next = serializers.CharField(allow_null=True)


class MergeInput(serializers.Serializer[None]):
    other = serializers.PrimaryKeyRelatedField(queryset=Customer.objects.all())
    # DRF's metaclass takes declared fields off the class, so this does not shadow
    # ``Serializer.fields``; the stubs cannot know that.
    fields = serializers.DictField(  # type: ignore[assignment]
        child=serializers.ChoiceField(choices=["this", "other"]),
        required=False,
        default=dict,
        help_text='which record each business field comes from: {"phone": "other"}',
    )


class UnmergeInput(serializers.Serializer[None]):
    other = serializers.PrimaryKeyRelatedField(
        queryset=Customer.objects.all(),
        required=False,
        allow_null=True,
        default=None,
        help_text="the merged-away customer; the latest merge when left out",
    )


class MergeRecordSerializer(serializers.ModelSerializer[CustomerMerge]):
    class Meta:
        model = CustomerMerge
        fields = ["id", "survivor", "absorbed", "merged_at", "undo_until", "undone_at"]
        read_only_fields = fields


class RevealInput(serializers.Serializer[None]):
    field = serializers.ChoiceField(choices=list(REVEALABLE_FIELDS))


class RevealSerializer(serializers.Serializer[None]):
    field = serializers.CharField()
    value = serializers.CharField()


class MergeResultSerializer(serializers.Serializer[None]):
    customer = CustomerSerializer()
    merge = MergeRecordSerializer()
