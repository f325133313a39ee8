from __future__ import annotations

from typing import Any

from rest_framework import serializers

from highseas.customers.choices import DealStage
from highseas.customers.models import Activity, Contact, Deal
from highseas.engine.masking import mask_value
from highseas.pools.contact_edits import CONTACT_FIELDS


class ActivitySerializer(serializers.ModelSerializer[Activity]):
    author_name = serializers.SerializerMethodField()
    occurred_at = serializers.DateTimeField(required=False)

    class Meta:
        model = Activity
        fields = [
            "id",
            "kind",
            "occurred_at",
            "author",
            "author_name",
            "note",
            "outcome",
            "next_contact_at",
            "created_at",
        ]
        read_only_fields = ["author", "created_at"]

    def get_author_name(self, activity: Activity) -> str | None:
        return activity.author.label if activity.author else None


class DealSerializer(serializers.ModelSerializer[Deal]):
    amount = serializers.DecimalField(max_digits=14, decimal_places=2, min_value=0)

    class Meta:
        model = Deal
        fields = [
            "id",
            "name",
            "amount",
            "stage",
            "owner",
            "expected_close",
            "contract_end",
            "won_at",
            "lost_at",
            "lost_reason",
            "created_at",
        ]
        read_only_fields = ["owner", "won_at", "lost_at", "created_at"]


class DealStageInput(serializers.Serializer[None]):
    stage = serializers.ChoiceField(choices=DealStage.choices)
    contract_end = serializers.DateTimeField(required=False, allow_null=True)
    lost_reason = serializers.CharField(
        max_length=200, required=False, allow_blank=True, default=""
    )


class ContactSerializer(serializers.ModelSerializer[Contact]):
    """Contacts of a customer the caller sees masked arrive masked too."""

    class Meta:
        model = Contact
        fields = ["id", *CONTACT_FIELDS]  # the contact's own fields, as its edit service has them

    def validate_phones(self, phones: Any) -> list[str]:
        if not isinstance(phones, list) or not all(isinstance(p, str) for p in phones):
            raise serializers.ValidationError("Use a list of phone numbers.")
        return phones

    def validate_important_dates(self, dates: Any) -> list[dict[str, str]]:
        if not isinstance(dates, list) or not all(
            isinstance(d, dict) and set(d) == {"label", "date"} for d in dates
        ):
            raise serializers.ValidationError('Use [{"label": …, "date": "YYYY-MM-DD"}].')
        return dates

    def to_representation(self, instance: Contact) -> dict[str, Any]:
        data = super().to_representation(instance)
        if self.context.get("masked"):
            data["phones"] = [mask_value("phone", p) for p in data["phones"]]
            data["email"] = mask_value("email", data["email"])
            data["wechat"] = mask_value("wechat", data["wechat"])
            data["birthday"] = None
            data["important_dates"] = []
        return data
