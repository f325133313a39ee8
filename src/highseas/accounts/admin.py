from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.utils.translation import gettext_lazy as _

from highseas.accounts.models import AuditLog, RepProfile, Team, User


class RepProfileInline(admin.StackedInline):
    model = RepProfile
    can_delete = False


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    list_display = ["username", "display_name", "role", "team", "is_active"]
    list_filter = ["role", "team", "is_active"]
    fieldsets = (
        *(BaseUserAdmin.fieldsets or ()),
        (_("HighSeas"), {"fields": ["display_name", "role", "team"]}),
    )
    inlines = [RepProfileInline]


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ["name", "parent", "manager", "path"]


@admin.register(AuditLog)
class AuditLogAdmin(admin.ModelAdmin):
    list_display = ["at", "actor", "action", "target_type", "target_id"]
    list_filter = ["action"]

    def has_change_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False

    def has_delete_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False
