from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from highseas.accounts.lockout import LOCKED_MESSAGE, is_locked_out
from highseas.accounts.models import ApiToken, AuditLog, RepProfile, Team, User


class LockoutAwareAdminAuthenticationForm(AdminAuthenticationForm):
    """``/admin/login/`` counts failures like the API and the web, and says when it is locked."""

    def clean(self) -> dict[str, Any]:
        try:
            return super().clean()
        except forms.ValidationError:
            if is_locked_out(self.request):
                raise forms.ValidationError(LOCKED_MESSAGE, code="locked_out") from None
            raise


admin.site.login_form = LockoutAwareAdminAuthenticationForm


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


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows to look at, never to add, change or delete from the admin."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(AuditLog)
class AuditLogAdmin(ReadOnlyAdmin):
    list_display = ["at", "actor", "action", "target_type", "target_id", "address"]
    list_filter = ["action"]

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        return {}


@admin.register(ApiToken)
class ApiTokenAdmin(ReadOnlyAdmin):
    """Devices and their expiry; the secret is never stored, so never shown."""

    list_display = ["user", "device", "created", "expiry", "last_used"]
    fields = ["user", "device", "created", "expiry", "last_used"]
    search_fields = ["user__username", "device"]
