from typing import Any

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from highseas.accounts.admin_labels import labelled, shown, titled
from highseas.routing.models import (
    AssignmentDecision,
    AssignmentRule,
    AssignmentRun,
    RoutingCursor,
)


@admin.register(AssignmentRule)
class AssignmentRuleAdmin(admin.ModelAdmin):
    list_display = ["position", "name", "pool", "is_active", "updated_at"]
    list_display_links = ["name"]
    list_filter = ["is_active", "pool"]
    ordering = ["position", "id"]


CURSOR = {"rule": _("rule"), "team": _("team"), "state": _("state"), "version": _("version")}


@admin.register(RoutingCursor)
@labelled(CURSOR)
class RoutingCursorAdmin(admin.ModelAdmin):
    list_display = (*(shown(name) for name in CURSOR), "updated_at")
    readonly_fields = tuple([*(shown(name) for name in CURSOR), "updated_at"])
    fields = readonly_fields

    def has_add_permission(self, request):  # type: ignore[no-untyped-def]
        return False


class ReadOnlyAdmin(admin.ModelAdmin):
    """Runs and decisions are a log: they are read, never edited by hand."""

    def has_add_permission(self, request):  # type: ignore[no-untyped-def]
        return False

    def has_change_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False


@admin.register(AssignmentRun)
class AssignmentRunAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "started_at",
        "trigger",
        "dry_run",
        "pool",
        "considered",
        "assigned",
        "unassigned",
        "duration_ms",
        "triggered_by",
    ]
    list_filter = ["trigger", "dry_run"]
    exclude = ["batches"]


DECISION = {
    "at": _("at"),
    "run": _("run"),
    "customer": _("customer"),
    "rule": _("rule"),
    "owner": _("owner"),
    "outcome": _("outcome"),
    "reason": _("reason"),
}


@admin.register(AssignmentDecision)
@labelled(DECISION)
class AssignmentDecisionAdmin(ReadOnlyAdmin):
    list_display = ("id", *(shown(name) for name in DECISION))
    list_filter = [("outcome", titled(_("outcome")))]
    readonly_fields = (*(shown(name) for name in DECISION), "explained")
    fields = readonly_fields

    @admin.display(description=_("explanation"))
    def explained(self, decision: AssignmentDecision) -> dict[str, Any]:
        """The explanation with its eligible set named in full (``explained``)."""
        return decision.explained()
