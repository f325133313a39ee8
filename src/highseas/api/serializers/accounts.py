from __future__ import annotations

from typing import Any

from django.contrib.auth.password_validation import validate_password
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from highseas.accounts import services
from highseas.accounts.models import RepLevel, RepProfile, Team, User


class TeamSerializer(serializers.ModelSerializer[Team]):
    class Meta:
        model = Team
        fields = ["id", "name", "parent", "manager", "path"]
        read_only_fields = ["path"]

    def validate_parent(self, parent: Team | None) -> Team | None:
        team = self.instance
        if parent and team and parent.path.startswith(team.path):
            raise serializers.ValidationError("A team cannot sit under itself or its subtree.")
        return parent

    def create(self, validated_data: dict[str, Any]) -> Team:
        return services.add_team(self.context["request"].user, **validated_data)

    def update(self, instance: Team, validated_data: dict[str, Any]) -> Team:
        return services.change_team(self.context["request"].user, instance, **validated_data)


class UserSerializer(serializers.ModelSerializer[User]):
    password = serializers.CharField(
        write_only=True, required=False, min_length=8, style={"input_type": "password"}
    )
    level = serializers.ChoiceField(choices=RepLevel.choices, required=False)

    class Meta:
        model = User
        fields = [
            "id",
            "username",
            "password",
            "display_name",
            "role",
            "team",
            "level",
            "email",
            "is_active",
        ]

    def validate_password(self, password: str) -> str:
        validate_password(password)
        return password

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if self.instance is None and not attrs.get("password"):
            raise serializers.ValidationError({"password": ["This field is required."]})
        return attrs

    def to_representation(self, instance: User) -> dict[str, Any]:
        data = super().to_representation(instance)
        profile = getattr(instance, "profile", None)
        data["level"] = profile.level if profile else None
        return data

    def create(self, validated_data: dict[str, Any]) -> User:
        return services.add_user(self.context["request"].user, **validated_data)

    def update(self, instance: User, validated_data: dict[str, Any]) -> User:
        return services.change_user(self.context["request"].user, instance, **validated_data)


class UserBriefSerializer(serializers.ModelSerializer[User]):
    class Meta:
        model = User
        fields = ["id", "username", "display_name"]


@extend_schema_field(
    {
        "oneOf": [
            {"type": "integer", "description": "the colleague's user id"},
            {"type": "string", "enum": ["rules", "pools"]},
        ]
    }
)
class HandoverTargetField(serializers.Field[Any, Any, Any, Any]):
    """A colleague's user id, ``"rules"`` or ``"pools"``."""

    default_error_messages = {"invalid": 'Give a user id, "rules" or "pools".'}

    def to_internal_value(self, data: Any) -> int | str:
        if data in ("rules", "pools"):
            return str(data)
        if isinstance(data, bool):
            self.fail("invalid")
        if isinstance(data, int) or (isinstance(data, str) and data.isdigit()):
            return int(data)
        self.fail("invalid")

    def to_representation(self, value: Any) -> Any:
        return value


class HandoverInput(serializers.Serializer[None]):
    to = HandoverTargetField()
    dry_run = serializers.BooleanField(default=False)
    at = serializers.DateTimeField(
        required=False,
        allow_null=True,
        help_text="run it then (within a year) instead of now; a dry run previews it now",
    )


class ScheduledHandoverSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    user = serializers.IntegerField(source="rep_id")
    to = serializers.SerializerMethodField()
    at = serializers.DateTimeField(source="run_at")
    state = serializers.CharField()
    created_by = serializers.IntegerField(source="created_by_id")

    def get_to(self, row: Any) -> int | str:
        return row.target  # type: ignore[no-any-return]


class HandoverMoveSerializer(serializers.Serializer[None]):
    customer = serializers.IntegerField()
    to_owner = serializers.IntegerField(allow_null=True)
    to_pool = serializers.IntegerField(allow_null=True)
    was_frozen = serializers.BooleanField(help_text="the transfer or release ended a freeze")
    deals = serializers.IntegerField(help_text="open deals that followed the customer")
    tasks = serializers.IntegerField(help_text="open tasks that followed the customer")


class HandoverShareSerializer(serializers.Serializer[None]):
    to_owner = serializers.IntegerField(allow_null=True, help_text="null: left in a pool")
    customers = serializers.IntegerField()


class HandoverProblemSerializer(serializers.Serializer[None]):
    customer = serializers.IntegerField()
    code = serializers.CharField()


class HandoverResultSerializer(serializers.Serializer[None]):
    user = serializers.IntegerField()
    to = HandoverTargetField()
    dry_run = serializers.BooleanField()
    moved = HandoverMoveSerializer(many=True)
    by_owner = HandoverShareSerializer(many=True, help_text="who gets how many")
    problems = HandoverProblemSerializer(many=True)
    remaining = serializers.IntegerField(help_text="customers the user still owns afterwards")


class LeaveInput(serializers.Serializer[None]):
    """A rep's leave: both days, or both null to clear it; ``cover`` names the colleague who
    follows up the customers in pools whose policy says ``leave_mode: cover``."""

    leave_from = serializers.DateField(allow_null=True)
    leave_until = serializers.DateField(allow_null=True)
    cover = serializers.IntegerField(allow_null=True, required=False, min_value=1)


class LeaveSerializer(serializers.Serializer[RepProfile]):
    user = serializers.IntegerField(source="user_id")
    leave_from = serializers.DateField(allow_null=True)
    leave_until = serializers.DateField(allow_null=True)
    cover = serializers.IntegerField(source="leave_cover_id", allow_null=True)
