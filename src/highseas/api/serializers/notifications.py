from __future__ import annotations

from rest_framework import serializers

from highseas.notify.models import Notification


class NotificationSerializer(serializers.ModelSerializer[Notification]):
    is_read = serializers.SerializerMethodField()
    # title/body as written (the organisation's language); shown_* in the caller's language
    shown_title = serializers.CharField(read_only=True)
    shown_body = serializers.CharField(read_only=True)

    class Meta:
        model = Notification
        fields = [
            "id",
            "kind",
            "title",
            "body",
            "shown_title",
            "shown_body",
            "title_template",
            "params",
            "customer",
            "created_at",
            "read_at",
            "is_read",
        ]
        read_only_fields = fields

    def get_is_read(self, notification: Notification) -> bool:
        return notification.read_at is not None


class MarkedReadSerializer(serializers.Serializer[None]):
    marked_read = serializers.IntegerField(help_text="How many notifications became read.")
