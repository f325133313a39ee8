"""Tasks and comments (``tasks/``, ``customers/{id}/comments/``): shapes only; the rules are
``pools.collaboration``'s."""

from __future__ import annotations

from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from highseas.customers.models import Comment, Task, TaskPriority


class TaskSerializer(serializers.ModelSerializer[Task]):
    done = serializers.SerializerMethodField()
    overdue = serializers.SerializerMethodField()
    customer_name = serializers.SerializerMethodField()
    assignee_name = serializers.SerializerMethodField()

    class Meta:
        model = Task
        fields = [
            "id",
            "customer",
            "customer_name",
            "assignee",
            "assignee_name",
            "title",
            "due_at",
            "priority",
            "done",
            "done_at",
            "overdue",
            "created_by",
            "created_at",
        ]
        read_only_fields = fields

    def get_done(self, task: Task) -> bool:
        return task.done_at is not None

    def get_overdue(self, task: Task) -> bool:
        return task.done_at is None and task.due_at is not None and task.due_at < timezone.now()

    def get_customer_name(self, task: Task) -> str | None:
        return task.customer.name if task.customer else None

    def get_assignee_name(self, task: Task) -> str:
        return task.assignee.label


class TaskCreateInput(serializers.Serializer[None]):
    customer = serializers.IntegerField(
        required=False, allow_null=True, min_value=1, max_value=2**63 - 1, default=None
    )
    assignee = serializers.IntegerField(
        required=False,
        allow_null=True,
        min_value=1,
        max_value=2**63 - 1,
        default=None,
        help_text="Defaults to the caller.",
    )
    title = serializers.CharField(max_length=200, trim_whitespace=False)
    due_at = serializers.DateTimeField(required=False, allow_null=True, default=None)
    priority = serializers.ChoiceField(
        choices=TaskPriority.choices, required=False, default=TaskPriority.NORMAL
    )
    done = serializers.BooleanField(required=False, default=False)


class TaskUpdateInput(serializers.Serializer[None]):
    title = serializers.CharField(max_length=200, required=False, trim_whitespace=False)
    due_at = serializers.DateTimeField(required=False, allow_null=True)
    priority = serializers.ChoiceField(choices=TaskPriority.choices, required=False)
    done = serializers.BooleanField(required=False)


class TaskFilters(serializers.Serializer[None]):
    assignee = serializers.IntegerField(required=False, min_value=1, max_value=2**63 - 1)
    customer = serializers.IntegerField(required=False, min_value=1, max_value=2**63 - 1)
    done = serializers.BooleanField(required=False, allow_null=True, default=None)
    overdue = serializers.BooleanField(required=False, allow_null=True, default=None)


class MentionSerializer(serializers.Serializer[None]):
    id = serializers.IntegerField()
    username = serializers.CharField()
    name = serializers.CharField(help_text="The display name.")


class CommentSerializer(serializers.ModelSerializer[Comment]):
    author_name = serializers.SerializerMethodField()
    mentions = serializers.SerializerMethodField()

    class Meta:
        model = Comment
        fields = ["id", "customer", "author", "author_name", "body", "mentions", "created_at"]
        read_only_fields = ["id", "customer", "author", "author_name", "mentions", "created_at"]
        extra_kwargs = {"body": {"max_length": 10_000, "trim_whitespace": False}}

    def get_author_name(self, comment: Comment) -> str | None:
        return comment.author.label if comment.author else None

    @extend_schema_field(MentionSerializer(many=True))
    def get_mentions(self, comment: Comment) -> list[dict[str, object]]:
        return [
            {"id": user.pk, "username": user.username, "name": user.label}
            for user in comment.mentions.all()
        ]
