from django.contrib import admin

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


@admin.register(OwnershipEvent)
class OwnershipEventAdmin(admin.ModelAdmin):
    list_display = ["at", "customer", "kind", "from_owner", "to_owner", "actor_label", "reason"]
    list_filter = ["kind"]
    raw_id_fields = ["customer", "related_customer"]

    def has_add_permission(self, request):  # type: ignore[no-untyped-def]
        return False

    def has_change_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False

    def has_delete_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False


@admin.register(ClaimRequest)
class ClaimRequestAdmin(admin.ModelAdmin):
    list_display = ["customer", "requester", "state", "created_at", "expires_at"]
    list_filter = ["state"]
    raw_id_fields = ["customer"]
