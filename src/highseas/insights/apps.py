from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class InsightsConfig(AppConfig):
    name = "highseas.insights"
    label = "insights"
    verbose_name = _("Insights")

    def ready(self) -> None:
        from highseas.insights.jobs import run_insight_jobs
        from highseas.pools.scheduler import register_job

        register_job("insights", run_insight_jobs)
