"""Editing a customer: the field write policy, in one place, and the one edit service.

``edit_customer(viewer, customer_id, changes)`` is the only door for edits, whatever the
adapter (API, web, import). In one transaction, holding the customer's row lock:

1. the customer must be visible to the viewer (``not_found``) and editable by them: its
   owner, a manager above the owner, an admin, or an admin of the pool of a pooled customer
   (``not_owner``);
2. ownership fields are never written by an edit, for any role: sending one is a
   ``validation_error`` naming it (they move through the ownership services, with a ledger
   row); so is a field that is not a customer's business field;
3. each value is validated like the model field it goes to (choices, lengths, e-mail), tags
   as a list of strings, custom fields as an object;
4. only values that differ from the stored ones are changes. A rep may not change a
   managers-only field (``level``, ``stage``): ``permission_denied`` naming them;
5. ``stage: won`` follows only from a won deal: setting it on a customer without one is a
   ``validation_error``, for anyone;
6. the duplicate keys follow the changed fields, screened like a create into the customer's
   pool (``pools.dedup.update_customer``);
7. each change of an audited field is an ``AuditLog`` row with before and after;
8. a change of a field that can move the recycle schedule recomputes ``recycle_due_at`` /
   ``warn_at`` (``pools.schedule.refresh_schedule``).
A refused edit changes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Field
from django.utils.translation import gettext as _

from highseas.accounts.models import AuditLog, User
from highseas.accounts.visibility import Viewer
from highseas.customers.choices import CustomerStage, DealStage
from highseas.customers.models import Customer, Deal
from highseas.customers.regions import normalize_region
from highseas.engine.bounds import customer_errors, require_valid
from highseas.engine.duplicates import EntryPoint
from highseas.engine.errors import ErrorCode, HighSeasError
from highseas.pools.dedup import update_customer
from highseas.pools.schedule import refresh_schedule


@dataclass(frozen=True)
class FieldRule:
    """How an edit may write one business field."""

    managers_only: bool = False  # a rep may not change it
    audited: bool = False  # each change is an AuditLog row with before/after
    moves_schedule: bool = False  # a change recomputes the recycle schedule


MANAGED = FieldRule(managers_only=True, audited=True, moves_schedule=True)

FIELD_POLICY: Mapping[str, FieldRule] = {
    "name": FieldRule(),
    "kind": FieldRule(),
    "credit_code": FieldRule(),
    "phone": FieldRule(),
    "email": FieldRule(),
    "industry": FieldRule(),
    "province": FieldRule(),
    "city": FieldRule(),
    "address": FieldRule(),
    "employees": FieldRule(),
    "revenue_band": FieldRule(),
    "source": FieldRule(),
    "campaign": FieldRule(),
    "level": MANAGED,
    "stage": MANAGED,
    "tags": FieldRule(),
    "custom_fields": FieldRule(),
}
EDITABLE_FIELDS = tuple(FIELD_POLICY)

OWNERSHIP_FIELDS = (
    "status",
    "owner",
    "pool",
    "owned_since",
    "frozen_until",
    "recycle_due_at",
    "warn_at",
    "previous_owner",
    "last_effective_activity_at",
    "last_activity_at",
    "merged_into",
    "merged_at",
    "created_by",
    "created_at",
)
# Ownership fields by their column names too, and the duplicate keys the service derives.
PROTECTED_FIELDS = frozenset(
    {
        *OWNERSHIP_FIELDS,
        "owner_id",
        "pool_id",
        "previous_owner_id",
        "merged_into_id",
        "created_by_id",
        "phone_key",
        "email_key",
        "credit_key",
        "name_key",
    }
)


@dataclass(frozen=True)
class Edited:
    customer: Customer
    changed: list[str] = field(default_factory=list)
    warnings: list[dict[str, Any]] = field(default_factory=list)  # possible duplicates


def _refuse_fields(errors: dict[str, list[str]], detail: str) -> HighSeasError:
    return HighSeasError(ErrorCode.VALIDATION_ERROR, detail, errors=errors)


def _check_names(changes: Mapping[str, Any]) -> None:
    protected = sorted(name for name in changes if name in PROTECTED_FIELDS)
    if protected:
        raise _refuse_fields(
            {name: ["ownership field: use the ownership actions"] for name in protected},
            _("Ownership fields are not changed by an edit."),
        )
    unknown = sorted(name for name in changes if name not in FIELD_POLICY)
    if unknown:
        raise _refuse_fields(
            {name: ["not an editable field"] for name in unknown},
            _("Some fields cannot be edited."),
        )


def _clean(customer: Customer, name: str, value: Any) -> Any:
    if name == "tags":
        if not isinstance(value, list) or not all(isinstance(tag, str) for tag in value):
            raise ValidationError("Use a list of strings.")
        return value
    if name == "custom_fields":
        if not isinstance(value, dict):
            raise ValidationError("Use an object.")
        return value
    model_field = Customer._meta.get_field(name)
    assert isinstance(model_field, Field)
    return model_field.clean(value, customer)


def _cleaned(customer: Customer, changes: Mapping[str, Any]) -> dict[str, Any]:
    """The changes that differ from the stored values, each validated like its field."""
    cleaned, errors = {}, {}
    for name, value in changes.items():
        try:
            cleaned[name] = _clean(customer, name, value)
        except ValidationError as exc:
            errors[name] = [str(message) for message in exc.messages]
    if errors:
        raise _refuse_fields(errors, _("Some fields are not valid."))
    return {name: value for name, value in cleaned.items() if getattr(customer, name) != value}


def may_edit(viewer: Viewer, customer: Customer) -> bool:
    return viewer.sees_in_full(customer)


def may_change(viewer: Viewer, name: str) -> bool:
    return not FIELD_POLICY[name].managers_only or viewer.is_admin or viewer.user.is_manager


def _locked(viewer: Viewer, customer_id: int) -> Customer:
    customer = (
        viewer.customers()
        .select_for_update(of=("self",))
        .select_related("pool__recycle_policy")
        .filter(pk=customer_id)
        .first()
    )
    if customer is None:
        raise HighSeasError(ErrorCode.NOT_FOUND, _("No such customer."))
    if not may_edit(viewer, customer):
        raise HighSeasError(ErrorCode.NOT_OWNER, _("Only the owner or their manager may edit."))
    return customer


def _check_roles(viewer: Viewer, changed: Mapping[str, Any]) -> None:
    refused = sorted(name for name in changed if not may_change(viewer, name))
    if refused:
        raise HighSeasError(
            ErrorCode.PERMISSION_DENIED,
            _("Only a manager or an admin may change the level or the stage."),
            fields=refused,
        )


def require_won_deal(customer: Customer | None, stage: Any) -> None:
    """``stage: won`` follows only from a won deal; a customer not yet registered has none."""
    if stage != CustomerStage.WON:
        return
    if customer is None or not Deal.objects.filter(customer=customer, stage=DealStage.WON).exists():
        raise _refuse_fields(
            {"stage": ["won follows from a won deal"]},
            _("A customer becomes won when one of its deals is won."),
        )


def _audit(actor: User, customer: Customer, before: Mapping[str, Any], changed: Any) -> None:
    AuditLog.objects.bulk_create(
        AuditLog(
            actor=actor,
            action=AuditLog.Action.CUSTOMER_EDIT,
            target_type="customer",
            target_id=str(customer.pk),
            detail={"field": name, "before": before[name], "after": changed[name]},
        )
        for name in changed
        if FIELD_POLICY[name].audited
    )


def _as_viewer(viewer_or_actor: Viewer | User) -> Viewer:
    return viewer_or_actor if isinstance(viewer_or_actor, Viewer) else Viewer(viewer_or_actor)


@transaction.atomic
def edit_customer(
    viewer_or_actor: Viewer | User,
    customer_id: int,
    changes: Mapping[str, Any],
    *,
    entry_point: str | EntryPoint = EntryPoint.API,
) -> Edited:
    """Apply an edit of business fields, by the module's steps; returns the customer as
    written, the names of the fields that changed and any duplicate warnings."""
    viewer = _as_viewer(viewer_or_actor)
    customer = _locked(viewer, customer_id)
    _check_names(changes)
    changes = normalize_region(dict(changes))  # 浙江省 and 浙江 are one province
    require_valid(customer_errors(changes))
    changed = _cleaned(customer, changes)
    _check_roles(viewer, changed)
    require_won_deal(customer, changed.get("stage"))
    if not changed:
        return Edited(customer)
    before = {name: getattr(customer, name) for name in changed}
    updated = update_customer(customer=customer, changes=changed, entry_point=entry_point)
    _audit(viewer.user, customer, before, changed)
    if any(FIELD_POLICY[name].moves_schedule for name in changed):
        refresh_schedule(customer)
    return Edited(updated.customer, sorted(changed), updated.warnings)
