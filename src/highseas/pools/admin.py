from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from highseas.accounts.admin_labels import labelled, shown, titled
from highseas.pools.models import ClaimPolicy, ClaimRequest, OwnershipEvent, Pool, RecyclePolicy


class ClaimPolicyInline(admin.StackedInline):
    model = ClaimPolicy
    can_delete = False


class RecyclePolicyInline(admin.StackedInline):
    model = RecyclePolicy
    fk_name = "pool"
    can_delete = False


@admin.register(Pool)
class PoolAdmin(admin.ModelAdmin):
    list_display = ["name", "is_default", "created_at"]
    filter_horizontal = ["member_teams", "member_users", "admins"]
    inlines = [ClaimPolicyInline, RecyclePolicyInline]


LEDGER = {
    "at": _("at"),
    "customer": _("customer"),
    "kind": _("event"),
    "from_status": _("status before"),
    "to_status": _("status after"),
    "from_owner": _("previous owner"),
    "to_owner": _("new owner"),
    "from_pool": _("pool before"),
    "to_pool": _("pool after"),
    "actor": _("by"),
    "actor_label": _("acting as"),
    "policy_ref": _("policy"),
    "related_customer": _("related customer"),
}


EVENT_KINDS = {
    "created": pgettext_lazy("ledger", "Created"),
    "claimed": pgettext_lazy("ledger", "Claimed"),
    "assigned": pgettext_lazy("ledger", "Assigned"),
    "transferred": pgettext_lazy("ledger", "Transferred"),
    "released": pgettext_lazy("ledger", "Released"),
    "recycled": pgettext_lazy("ledger", "Recycled"),
    "frozen": pgettext_lazy("ledger", "Frozen"),
    "unfrozen": pgettext_lazy("ledger", "Unfrozen"),
    "merged": pgettext_lazy("ledger", "Merged"),
}


class EventKindFilter(admin.SimpleListFilter):
    title = _("event")
    parameter_name = "kind"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return list(EVENT_KINDS.items())

    def queryset(
        self, request: HttpRequest, queryset: QuerySet[OwnershipEvent]
    ) -> QuerySet[OwnershipEvent]:
        return queryset.filter(kind=self.value()) if self.value() else queryset


@admin.register(OwnershipEvent)
@labelled(LEDGER)
class OwnershipEventAdmin(admin.ModelAdmin):
    list_display = tuple(
        shown(name)
        for name in ("at", "customer", "kind", "from_owner", "to_owner", "actor_label", "reason")
    )
    list_filter = [EventKindFilter]
    readonly_fields = (*[shown(name) for name in LEDGER], shown("reason"))
    fields = readonly_fields

    @admin.display(description=_("reason"))
    def reason_shown(self, event: OwnershipEvent) -> str:
        """In the reader's language (``pools.reasons``)."""
        return event.reason_text

    @admin.display(description=_("event"), ordering="kind")
    def kind_shown(self, event: OwnershipEvent) -> object:
        return EVENT_KINDS.get(event.kind, event.kind)

    def has_add_permission(self, request):  # type: ignore[no-untyped-def]
        return False

    def has_change_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False

    def has_delete_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False


CLAIM_REQUEST = {
    "customer": _("customer"),
    "requester": _("requester"),
    "state": _("state"),
    "created_at": _("created at"),
    "expires_at": _("expires at"),
    "decided_by": _("decided by"),
    "decided_at": _("decided at"),
    "decision_note": _("decision note"),
}


@admin.register(ClaimRequest)
@labelled(CLAIM_REQUEST)
class ClaimRequestAdmin(admin.ModelAdmin):
    list_display = tuple(
        shown(name) for name in ("customer", "requester", "state", "created_at", "expires_at")
    )
    list_filter = [("state", titled(_("state")))]
    readonly_fields = tuple([shown(name) for name in CLAIM_REQUEST])
    readonly_fields = (*readonly_fields[:2], shown("reason"), *readonly_fields[2:])
    fields = readonly_fields

    @admin.display(description=_("reason"))
    def reason_shown(self, request: ClaimRequest) -> str:
        """What the rep typed, or "Claim request" in the reader's language."""
        return request.reason_text

    def has_add_permission(self, request):  # type: ignore[no-untyped-def]
        return False

    def has_change_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False  # requests are decided in the console, through the approval service
