"""Revealing a masked field (SPEC §2): allowed by ``Viewer.may_reveal``, always logged.

Both outcomes leave an audit row: ``reveal`` with the field when the clear value is given,
``permission_denied`` when it is refused. The value itself is never logged.
"""

from __future__ import annotations

from django.utils.translation import gettext as _

from highseas.accounts.models import AuditLog
from highseas.accounts.visibility import Viewer
from highseas.customers.models import Customer
from highseas.engine.errors import ErrorCode, HighSeasError

REVEALABLE_FIELDS = ("phone", "email", "address", "credit_code")


def _log(viewer: Viewer, action: str, customer: Customer, field: str) -> None:
    AuditLog.objects.create(
        actor=viewer.user,
        action=action,
        target_type="customer",
        target_id=str(customer.pk),
        detail={"field": field, "action": "reveal"},
    )


def reveal(viewer: Viewer, customer: Customer, field: str) -> str:
    """The clear value of one of the customer's maskable fields."""
    if field not in REVEALABLE_FIELDS:
        raise HighSeasError(
            ErrorCode.VALIDATION_ERROR,
            _("This field cannot be revealed."),
            errors={"field": [f"one of {', '.join(REVEALABLE_FIELDS)}"]},
        )
    if not viewer.may_reveal(customer):
        _log(viewer, AuditLog.Action.PERMISSION_DENIED, customer, field)
        refusal = HighSeasError(
            ErrorCode.PERMISSION_DENIED, _("You may not reveal this customer's details.")
        )
        refusal.audited = True  # the row above is the denial's audit row
        raise refusal
    _log(viewer, AuditLog.Action.REVEAL, customer, field)
    return str(getattr(customer, field))
