"""From customers' profiles and stories to table rows, with precomputed primary keys.

Pure Python, like everything that generates the demo: batches can be built in another
process and sent to the one that writes them. Phones, e-mails, WeChat IDs and the duplicate
keys are plain here; the writer (``demo.tables``) encrypts them and makes the keys blind
indexes as it writes each batch, in the process that holds the data key.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from highseas.demo.profiles import CustomerProfile
from highseas.demo.story import Story

Row = tuple[Any, ...]

# Field names, in the order of the values in each row.
FIELDS: dict[str, tuple[str, ...]] = {
    "customers": (
        "id", "name", "kind", "credit_code", "phone", "email", "industry", "province", "city",
        "address", "employees", "revenue_band", "source", "campaign", "level", "stage", "tags",
        "custom_fields", "created_by", "created_at", "updated_at", "status", "pool", "owner",
        "owned_since", "frozen_until", "last_effective_activity_at", "last_activity_at",
        "recycle_due_at", "warn_at", "previous_owner", "phone_key", "email_key", "credit_key",
        "name_key",
    ),
    "contacts": (
        "id", "customer", "name", "title", "phones", "email", "wechat", "birthday",
        "important_dates", "is_primary", "do_not_contact", "legal_basis", "created_at",
    ),
    "activities": (
        "id", "customer", "kind", "occurred_at", "author", "note", "outcome",
        "next_contact_at", "created_at",
    ),
    "deals": (
        "id", "customer", "name", "amount", "stage", "owner", "expected_close", "won_at",
        "lost_at", "lost_reason", "created_at",
    ),
    "events": (
        "id", "customer", "kind", "from_status", "to_status", "from_owner", "to_owner",
        "from_pool", "to_pool", "actor", "actor_label", "reason", "reason_code", "reason_params",
        "policy_ref",
        "related_customer", "at",
    ),
}  # fmt: skip
TABLES = tuple(FIELDS)  # in an order that satisfies every foreign key


@dataclass
class RowBatch:
    """The rows of a batch of customers, table by table."""

    rows: dict[str, list[Row]] = field(default_factory=lambda: {table: [] for table in TABLES})
    statuses: Counter[str] = field(default_factory=Counter)

    @property
    def customer_count(self) -> int:
        return len(self.rows["customers"])


class RowBuilder:
    """Turns profiles and stories into rows; ``next_ids`` holds each table's next key."""

    def __init__(self, next_ids: dict[str, int]) -> None:
        self.next_ids = dict(next_ids)

    def add(self, batch: RowBatch, profile: CustomerProfile, story: Story) -> None:
        customer_id = self._take("customers")
        rows = batch.rows
        rows["customers"].append(_customer_row(customer_id, profile, story))
        rows["contacts"].extend(
            (
                self._take("contacts"), customer_id, contact.name, contact.title,
                contact.phones, contact.email, contact.wechat, contact.birthday,
                contact.important_dates, contact.is_primary, contact.do_not_contact,
                contact.legal_basis, story.created_at,
            )
            for contact in profile.contacts
        )  # fmt: skip
        rows["activities"].extend(
            (self._take("activities"), customer_id, *activity, activity.occurred_at)
            for activity in story.activities
        )
        rows["deals"].extend((self._take("deals"), customer_id, *deal) for deal in story.deals)
        rows["events"].extend(
            (
                self._take("events"), customer_id, event.kind, event.from_status,
                event.to_status, event.from_owner_id, event.to_owner_id,
                story.pool_id if event.from_status else None, story.pool_id, event.actor_id,
                event.actor_label, event.reason, event.reason_code, event.reason_params,
                event.policy_ref, None, event.at,
            )
            for event in story.events
        )  # fmt: skip
        batch.statuses[story.status] += 1

    def _take(self, table: str) -> int:
        allocated = self.next_ids[table]
        self.next_ids[table] = allocated + 1
        return allocated


def _customer_row(customer_id: int, profile: CustomerProfile, story: Story) -> Row:
    keys = profile.duplicate_keys
    return (
        customer_id, profile.name, profile.kind, profile.credit_code, profile.phone,
        profile.email, profile.industry, profile.province, profile.city, profile.address,
        profile.employees, profile.revenue_band, profile.source, profile.campaign,
        profile.level, story.stage, profile.tags, profile.custom_fields, story.created_by_id,
        story.created_at, story.updated_at, story.status, story.pool_id, story.owner_id,
        story.owned_since, story.frozen_until, story.last_effective_at, story.last_activity_at,
        story.recycle_due_at, story.warn_at, story.previous_owner_id, keys.phone or None,
        keys.email or None, keys.credit_code or None, keys.name or None,
    )  # fmt: skip
