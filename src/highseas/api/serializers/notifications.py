from __future__ import annotations

from typing import Any

from django.conf import settings
from rest_framework import serializers

from highseas.notify.models import Notification
from highseas.notify.preferences import CATEGORIES


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


class NotificationPreferencesSerializer(serializers.Serializer[dict[str, Any]]):
    """My notification settings (``notify.preferences``): which categories wait for the daily
    digest, when it comes, in which language, and the channels besides the inbox."""

    digest_categories = serializers.ListField(
        child=serializers.ChoiceField(choices=list(CATEGORIES)),
        help_text="The categories that wait for the daily digest; the others come at once.",
    )
    digest_time = serializers.TimeField(format="%H:%M", help_text="Local time, HH:MM.")
    time_zone = serializers.CharField(help_text="An IANA time zone, e.g. Asia/Shanghai.")
    language = serializers.ChoiceField(choices=[code for code, _name in settings.LANGUAGES])
    email = serializers.BooleanField()
    webhook = serializers.BooleanField()
    channels = serializers.ListField(
        child=serializers.CharField(),
        read_only=True,
        help_text="The channels besides the inbox this deployment enables.",
    )
    next_digest_at = serializers.DateTimeField(read_only=True, allow_null=True)
