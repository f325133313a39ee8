from django.contrib import admin

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


@admin.register(RoutingCursor)
class RoutingCursorAdmin(admin.ModelAdmin):
    list_display = ["rule", "team", "state", "version", "updated_at"]
    readonly_fields = ["rule", "team", "state", "version", "updated_at"]

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


@admin.register(AssignmentDecision)
class AssignmentDecisionAdmin(ReadOnlyAdmin):
    list_display = ["id", "at", "run", "customer", "rule", "owner", "outcome", "reason"]
    list_filter = ["outcome"]
    raw_id_fields = ["run", "customer", "rule", "owner"]
