from contextvars import ContextVar
from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.contrib.auth.forms import AdminPasswordChangeForm, UserChangeForm
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from highseas.accounts import services
from highseas.accounts.lockout import LOCKED_MESSAGE, is_locked_out
from highseas.accounts.models import ApiToken, AuditLog, RepProfile, Team, User
from highseas.engine.errors import HighSeasError


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
    """The leave (dates and cover) is shown, not edited, here: recording one recomputes the
    recycle schedules of the rep's customers (``pools.leave.record_leave``). The personal limits
    are shown too: they change on the console's profile page (``services.change_profile``),
    which audits them and records a lowered cap for ``highseas check``."""

    model = RepProfile
    fk_name = "user"
    can_delete = False
    readonly_fields = (
        "leave_from",
        "leave_until",
        "leave_cover",
        "holding_cap_override",
        "daily_quota_override",
        "weekly_quota_override",
    )


# Who is changing a password in the admin (its form gets no request); set per request.
_admin_actor: ContextVar[User | None] = ContextVar("admin_actor", default=None)


class PasswordThroughServiceForm(AdminPasswordChangeForm):
    """The admin's "change password" goes through ``update_user`` like every other door:
    the change is audited and the user's API tokens are revoked."""

    def save(self, commit: bool = True) -> Any:
        password = self.cleaned_data["password1"]
        return services.update_user(self.user, password=password, actor=_admin_actor.get())


def _handover_pointer(refusal: HighSeasError, user: User) -> str:
    """The refusal with a link to the console's departure handover of that user."""
    url = reverse("web:departure", args=[user.pk])
    owned = refusal.facts.get("owned", 0)
    link = format_html(
        '<a href="{}">{}</a>', url, _("Hand over their %(n)s customers") % {"n": owned}
    )
    return format_html("{} {}", refusal.detail, link)


class DeactivationCheckedForm(UserChangeForm):
    """Unticking "active" for a user who still owns customers is refused here, by the same
    rule as ``update_user`` (hand their customers over first), so the admin says why."""

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or self.cleaned_data
        user = self.instance
        if user.pk and cleaned.get("is_active") is False and self.initial.get("is_active"):
            try:
                services.require_handed_over(user)
            except HighSeasError as refusal:
                raise forms.ValidationError(
                    _handover_pointer(refusal, user), code=refusal.code.value
                ) from None
        return cleaned


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    list_display = ["username", "display_name", "role", "team", "is_active"]
    list_filter = ["role", "team", "is_active"]
    fieldsets = (
        *(BaseUserAdmin.fieldsets or ()),
        (_("HighSeas"), {"fields": ["display_name", "role", "team"]}),
    )
    inlines = [RepProfileInline]
    form = DeactivationCheckedForm
    change_password_form = PasswordThroughServiceForm

    def save_model(self, request: HttpRequest, obj: User, form: Any, change: bool) -> None:
        """A change (role, deactivation …) goes through ``update_user``: audited, and the
        user's tokens revoked when the role changes or the account is deactivated."""
        if not change:
            super().save_model(request, obj, form, change)
            return
        assert isinstance(request.user, User)
        services.update_user(obj, actor=request.user)

    def user_change_password(
        self, request: HttpRequest, id: str, form_url: str = ""
    ) -> HttpResponse:
        token = _admin_actor.set(request.user if isinstance(request.user, User) else None)
        try:
            return super().user_change_password(request, id, form_url)
        finally:
            _admin_actor.reset(token)


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
