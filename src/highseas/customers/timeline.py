"""A customer's timeline as one viewer may see it: follow-ups, deals, contacts, ownership
history. The API's sub-resources and the web's customer page read it from here alone.

1. The customer must be visible to the viewer (``Viewer.customers``); otherwise ``not_found``,
   never ``permission_denied``, so that its existence does not leak.
2. Follow-ups and deals are free text (a note can hold a phone number): only a viewer who sees
   the customer in full (``Viewer.sees_in_full``: admins, the owner, the managers above the
   owner, a pooled customer's pool admins) gets them. Anyone else who sees the customer, masked,
   gets an empty list: the customer is theirs to see, its notes are not (the web page says
   so; an error would read as if the customer itself were off limits). The number of
   follow-ups is not a field and is shown to every viewer of the customer.
3. Contacts go to every viewer of the customer, masked (phones, e-mail, WeChat; no birthday,
   no important dates) whenever any field of the customer reaches this viewer masked.
4. The ownership history goes to every viewer of the customer: it names owners, pools and
   reasons, never a customer field.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.utils.translation import gettext as _

from highseas.accounts.visibility import Viewer
from highseas.customers.models import Activity, Contact, Customer, Deal
from highseas.engine.errors import ErrorCode, HighSeasError
from highseas.engine.masking import mask_value
from highseas.pools.models import OwnershipEvent

ACTIVITY_LIMIT = 200


def visible_customer(viewer: Viewer, customer_id: int) -> Customer:
    customer = viewer.customers().filter(pk=customer_id).first()
    if customer is None:
        raise HighSeasError(ErrorCode.NOT_FOUND, _("No such customer."))
    return customer


def shows_follow_ups(viewer: Viewer, customer: Customer) -> bool:
    """Rule 2: whether follow-ups and deals of this (visible) customer reach the viewer."""
    return viewer.sees_in_full(customer)


def activities(viewer: Viewer, customer_id: int, *, limit: int = ACTIVITY_LIMIT) -> list[Activity]:
    """The latest follow-ups, newest first (empty for a viewer who sees the customer masked)."""
    customer = visible_customer(viewer, customer_id)
    if not shows_follow_ups(viewer, customer):
        return []
    return list(customer.activities.select_related("author").order_by("-occurred_at")[:limit])


def follow_up_count(viewer: Viewer, customer_id: int) -> int:
    return visible_customer(viewer, customer_id).activities.count()


def deals(viewer: Viewer, customer_id: int) -> list[Deal]:
    """The customer's deals, newest first (empty for a viewer who sees the customer masked)."""
    customer = visible_customer(viewer, customer_id)
    if not shows_follow_ups(viewer, customer):
        return []
    return list(customer.deals.order_by("-created_at"))


def _contact(contact: Contact, masked: bool) -> dict[str, Any]:
    def hidden(field: str, value: str) -> str:
        return str(mask_value(field, value)) if masked else value

    return {
        "id": contact.pk,
        "name": contact.name,
        "title": contact.title,
        "phones": [hidden("phone", phone) for phone in contact.phones],
        "email": hidden("email", contact.email),
        "wechat": hidden("wechat", contact.wechat),
        "birthday": None if masked else contact.birthday,
        "important_dates": [] if masked else contact.important_dates,
        "is_primary": contact.is_primary,
        "do_not_contact": contact.do_not_contact,
        "legal_basis": contact.legal_basis,
    }


def contacts(viewer: Viewer, customer_id: int) -> list[dict[str, Any]]:
    """The customer's contacts, the primary one first, masked as rule 3 says."""
    customer = visible_customer(viewer, customer_id)
    masked = bool(viewer.masked_fields(customer))
    return [_contact(c, masked) for c in customer.contacts.order_by("-is_primary", "id")]


def ownership_history(viewer: Viewer, customer_id: int) -> QuerySet[OwnershipEvent]:
    """The customer's ledger rows, oldest first."""
    customer = visible_customer(viewer, customer_id)
    return (
        OwnershipEvent.objects.filter(customer=customer)
        .select_related("actor", "from_owner", "to_owner", "from_pool", "to_pool")
        .order_by("id")
    )
