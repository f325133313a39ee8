"""Saving the 公共检索 settings (SPEC §8): which basic fields public search shows, its scope
(prospects only, or prospects and won customers) and the statuses it lists.

``save_public_settings(viewer, fields=…, scope=…, statuses=…)``, in one transaction:

1. only an admin may (``permission_denied``; nothing is written);
2. the fields must be among ``customers.public.allowed_fields()`` — a private field
   (phone, e-mail, credit code, address …) is never public — and include the name; the
   scope one of ``prospects`` / ``prospects_and_won``; at least one status among
   unassigned / owned / frozen / recycled (``validation_error`` naming the field);
3. the one settings row is written (created the first time) and an audit row
   ``policy_change`` records before and after.
From then on the row wins over the deployment's ``HIGHSEAS_PUBLIC_*`` settings.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict

from django.db import transaction
from django.utils.translation import gettext as _

from highseas.accounts.audit import record_audit
from highseas.accounts.models import AuditLog
from highseas.accounts.visibility import Viewer
from highseas.customers.models import PublicSearchSettings
from highseas.customers.public import (
    SCOPES,
    PublicSettings,
    PublicStatus,
    allowed_fields,
    public_settings,
)
from highseas.engine.errors import ErrorCode, HighSeasError


def _errors(fields: Sequence[str], scope: str, statuses: Sequence[str]) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    allowed = allowed_fields()
    if unknown := sorted(set(fields) - set(allowed)):
        errors["fields"] = [f"not a public field: {', '.join(unknown)}"]
    elif "name" not in fields:
        errors["fields"] = ["the name is always shown"]
    if scope not in SCOPES:
        errors["scope"] = [f"one of {', '.join(SCOPES)}"]
    values = {s.value for s in PublicStatus}
    if not statuses or not set(statuses) <= values:
        errors["statuses"] = [f"one or more of {', '.join(sorted(values))}"]
    return errors


def _plain(settings: PublicSettings) -> dict[str, object]:
    return {
        name: list(value) if isinstance(value, tuple) else value
        for name, value in asdict(settings).items()
    }


@transaction.atomic
def save_public_settings(
    viewer: Viewer, *, fields: Sequence[str], scope: str, statuses: Sequence[str]
) -> PublicSettings:
    """Store the settings by the module's steps; returns them as they now apply."""
    if not viewer.is_admin:
        raise HighSeasError(
            ErrorCode.PERMISSION_DENIED, _("Only an admin may change the public search.")
        )
    if errors := _errors(fields, scope, statuses):
        raise HighSeasError(
            ErrorCode.VALIDATION_ERROR, _("Some settings are not valid."), errors=errors
        )
    before = public_settings()
    row = PublicSearchSettings.objects.select_for_update().order_by("pk").first()
    row = row or PublicSearchSettings()
    row.fields = [name for name in allowed_fields() if name in fields]
    row.scope = scope
    row.statuses = [s.value for s in PublicStatus if s in statuses]
    row.updated_by = viewer.user
    row.save()
    after = public_settings()
    record_audit(
        viewer.user,
        AuditLog.Action.POLICY_CHANGE,
        target_type="public_search",
        target_id=row.pk,
        before=_plain(before),
        after=_plain(after),
    )
    return after
