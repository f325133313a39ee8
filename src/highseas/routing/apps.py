from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RoutingConfig(AppConfig):
    name = "highseas.routing"
    label = "routing"
    verbose_name = _("Assignment rules")

    def ready(self) -> None:
        from highseas.pools.scheduler import register_job
        from highseas.routing.scheduled import run_due_handovers

        register_job("handovers", run_due_handovers)
