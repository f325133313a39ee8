from __future__ import annotations

from django.apps import AppConfig


class SmartConfig(AppConfig):
    name = "highseas.smart"
    label = "smart"
    verbose_name = "Smart assignment"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from highseas.pools.scheduler import register_job
        from highseas.smart.services import retrain_if_due

        register_job("win_model", retrain_if_due)  # a new version daily, when deals were decided
