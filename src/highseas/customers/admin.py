from django.contrib import admin

from highseas.customers.models import Customer


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    """Read-mostly: ownership changes go through the ownership services, never this form."""

    list_display = ["name", "status", "owner", "pool", "level", "province", "city", "created_at"]
    list_filter = ["status", "level", "source"]
    search_fields = ["name"]
    readonly_fields = [
        "status",
        "owner",
        "pool",
        "owned_since",
        "frozen_until",
        "last_effective_activity_at",
        "recycle_due_at",
        "warn_at",
        "previous_owner",
        "created_by",
        "created_at",
    ]
    show_full_result_count = False
