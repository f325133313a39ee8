"""Editing a contact of a customer: the one door, in the style of ``pools.editing``.

``edit_contact(viewer, customer_id, contact_id, changes)``, in one transaction holding the
customer's row lock:

1. the customer must exist and the viewer must be its owner, a manager above the owner or
   an admin (``not_found`` / ``not_owner``, as for adding a contact);
2. the contact must belong to that customer (``not_found``): a contact is never moved to
   another customer by an edit;
3. only a contact's own fields are written; any other name (``customer``, ``id``,
   ``created_at`` …) is a ``validation_error`` naming it;
4. each value is checked like a new contact's (phones are phone numbers, dates are dates,
   the name has visible characters) and like its model field;
5. only values that differ from the stored ones are written; a contact made primary makes
   the customer's other contacts not primary;
6. a viewer who sees the customer's contacts masked may not write the masked fields
   (``permission_denied`` naming them).
A refused edit changes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Field
from django.utils.translation import gettext as _

from highseas.accounts.visibility import Viewer
from highseas.customers.models import Contact
from highseas.engine.bounds import contact_errors, require_valid
from highseas.engine.errors import ErrorCode, HighSeasError
from highseas.pools.authority import require_owner_or_manager
from highseas.pools.followups import locked_customer

CONTACT_FIELDS = (
    "name",
    "title",
    "phones",
    "email",
    "wechat",
    "birthday",
    "important_dates",
    "is_primary",
    "do_not_contact",
    "legal_basis",
)
JSON_FIELDS = frozenset({"phones", "important_dates"})
# What ``customers.timeline.contacts`` masks for a viewer who sees the customer masked.
PERSONAL_FIELDS = frozenset({"phones", "email", "wechat", "birthday", "important_dates"})


def editable_fields(viewer: Viewer, contact: Contact) -> tuple[str, ...]:
    """A viewer who sees the customer's contacts masked (a role's masked fields) does not
    edit what they cannot see: rule 6."""
    if viewer.masked_fields(contact.customer):
        return tuple(name for name in CONTACT_FIELDS if name not in PERSONAL_FIELDS)
    return CONTACT_FIELDS


def _check_names(changes: Mapping[str, Any]) -> None:
    unknown = sorted(name for name in changes if name not in CONTACT_FIELDS)
    if unknown:
        raise HighSeasError(
            ErrorCode.VALIDATION_ERROR,
            _("Some fields cannot be edited."),
            errors={name: ["not an editable field"] for name in unknown},
        )


def _cleaned(contact: Contact, changes: Mapping[str, Any]) -> dict[str, Any]:
    cleaned, errors = {}, {}
    for name, value in changes.items():
        if name in JSON_FIELDS:
            cleaned[name] = list(value or [])
            continue
        model_field = Contact._meta.get_field(name)
        assert isinstance(model_field, Field)
        try:
            cleaned[name] = model_field.clean(value, contact)
        except ValidationError as exc:
            errors[name] = [str(message) for message in exc.messages]
    if errors:
        raise HighSeasError(
            ErrorCode.VALIDATION_ERROR, _("Some fields are not valid."), errors=errors
        )
    return {name: value for name, value in cleaned.items() if getattr(contact, name) != value}


@transaction.atomic
def edit_contact(
    viewer: Viewer, customer_id: int, contact_id: int, changes: Mapping[str, Any]
) -> Contact:
    """Apply an edit of a contact's fields, by the module's steps; returns the contact."""
    customer = locked_customer(viewer.user, customer_id)
    contact = Contact.objects.filter(pk=contact_id, customer=customer).first()
    if contact is None:
        raise HighSeasError(ErrorCode.NOT_FOUND, _("No such contact."))
    _check_names(changes)
    if hidden := sorted(set(changes) - set(editable_fields(viewer, contact))):
        raise HighSeasError(
            ErrorCode.PERMISSION_DENIED,
            _("You see these details masked and may not change them."),
            fields=hidden,
        )
    require_valid(contact_errors(changes))
    changed = _cleaned(contact, changes)
    if not changed:
        return contact
    for name, value in changed.items():
        setattr(contact, name, value)
    contact.save(update_fields=sorted(changed))
    if changed.get("is_primary"):
        Contact.objects.filter(customer=customer, is_primary=True).exclude(pk=contact.pk).update(
            is_primary=False
        )
    return contact


def editable_contact(viewer: Viewer, customer_id: int, contact_id: int) -> Contact:
    """The contact as its edit form shows it, for those who may edit it (same refusals)."""
    contact = (
        Contact.objects.select_related("customer__owner")
        .filter(pk=contact_id, customer_id=customer_id)
        .first()
    )
    if contact is None:
        raise HighSeasError(ErrorCode.NOT_FOUND, _("No such contact."))
    require_owner_or_manager(viewer, contact.customer)
    return contact
