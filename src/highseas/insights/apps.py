from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class InsightsConfig(AppConfig):
    name = "highseas.insights"
    label = "insights"
    verbose_name = _("Insights")

    def ready(self) -> None:
        from highseas.insights.jobs import JOBS
        from highseas.pools.scheduler import register_job

        for name, action in JOBS.items():  # each on the scheduler's slow lane
            register_job(name, action)
