from __future__ import annotations

from django.apps import AppConfig


class SmartConfig(AppConfig):
    name = "highseas.smart"
    label = "smart"
    verbose_name = "Smart assignment"
    default_auto_field = "django.db.models.BigAutoField"
