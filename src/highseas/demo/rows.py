"""From a customer's profile and story to table rows with precomputed ids."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from highseas.customers.models import Activity, Contact, Customer, Deal
from highseas.demo.profiles import CustomerProfile
from highseas.demo.story import Story
from highseas.demo.writer import IdSequence, Row, TableWriter
from highseas.pools.models import OwnershipEvent

CUSTOMER_FIELDS = (
    "id",
    "name",
    "kind",
    "credit_code",
    "phone",
    "email",
    "industry",
    "province",
    "city",
    "address",
    "employees",
    "revenue_band",
    "source",
    "campaign",
    "level",
    "stage",
    "tags",
    "custom_fields",
    "created_by",
    "created_at",
    "updated_at",
    "status",
    "pool",
    "owner",
    "owned_since",
    "frozen_until",
    "last_effective_activity_at",
    "last_activity_at",
    "recycle_due_at",
    "warn_at",
    "previous_owner",
)
CONTACT_FIELDS = (
    "id",
    "customer",
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
    "created_at",
)
ACTIVITY_FIELDS = (
    "id",
    "customer",
    "kind",
    "occurred_at",
    "author",
    "note",
    "outcome",
    "next_contact_at",
    "created_at",
)
DEAL_FIELDS = (
    "id",
    "customer",
    "name",
    "amount",
    "stage",
    "owner",
    "expected_close",
    "won_at",
    "lost_at",
    "lost_reason",
    "created_at",
)
EVENT_FIELDS = (
    "id",
    "customer",
    "kind",
    "from_status",
    "to_status",
    "from_owner",
    "to_owner",
    "from_pool",
    "to_pool",
    "actor",
    "actor_label",
    "reason",
    "policy_ref",
    "related_customer",
    "at",
)
MODELS = (Customer, Contact, Activity, Deal, OwnershipEvent)


@dataclass
class Tally:
    """What was written, for the summary."""

    statuses: Counter[str] = field(default_factory=Counter)
    contacts: int = 0
    activities: int = 0
    deals: int = 0
    events: int = 0


class DemoTables:
    """The five tables a customer's rows go to, with their id sequences."""

    def __init__(self) -> None:
        self.customers = TableWriter(Customer, CUSTOMER_FIELDS)
        self.contacts = TableWriter(Contact, CONTACT_FIELDS)
        self.activities = TableWriter(Activity, ACTIVITY_FIELDS)
        self.deals = TableWriter(Deal, DEAL_FIELDS)
        self.events = TableWriter(OwnershipEvent, EVENT_FIELDS)
        self.ids = {model: IdSequence(model) for model in MODELS}
        self.tally = Tally()

    def batch(self) -> Batch:
        return Batch(self)


class Batch:
    """Rows of a batch of customers, in an order that satisfies every foreign key."""

    def __init__(self, tables: DemoTables) -> None:
        self.tables = tables
        self.customers: list[Row] = []
        self.contacts: list[Row] = []
        self.activities: list[Row] = []
        self.deals: list[Row] = []
        self.events: list[Row] = []
        self.statuses: Counter[str] = Counter()

    def add(self, profile: CustomerProfile, story: Story) -> None:
        ids = self.tables.ids
        customer_id = ids[Customer].take()
        self.customers.append(_customer_row(customer_id, profile, story))
        for contact in profile.contacts:
            self.contacts.append(
                (
                    ids[Contact].take(),
                    customer_id,
                    contact.name,
                    contact.title,
                    contact.phones,
                    contact.email,
                    contact.wechat,
                    contact.birthday,
                    contact.important_dates,
                    contact.is_primary,
                    contact.do_not_contact,
                    contact.legal_basis,
                    story.created_at,
                )
            )
        for activity in story.activities:
            self.activities.append(
                (ids[Activity].take(), customer_id, *activity, activity.occurred_at)
            )
        for deal in story.deals:
            self.deals.append(
                (
                    ids[Deal].take(),
                    customer_id,
                    deal.name,
                    deal.amount,
                    deal.stage,
                    deal.owner_id,
                    deal.expected_close,
                    deal.won_at,
                    deal.lost_at,
                    deal.lost_reason,
                    deal.created_at,
                )
            )
        for event in story.events:
            self.events.append(
                (
                    ids[OwnershipEvent].take(),
                    customer_id,
                    event.kind,
                    event.from_status,
                    event.to_status,
                    event.from_owner_id,
                    event.to_owner_id,
                    story.pool_id if event.from_status else None,
                    story.pool_id,
                    event.actor_id,
                    event.actor_label,
                    event.reason,
                    event.policy_ref,
                    None,
                    event.at,
                )
            )
        self.statuses[story.status] += 1

    def write(self) -> None:
        tables, tally = self.tables, self.tables.tally
        tables.customers.write(self.customers)
        tables.contacts.write(self.contacts)
        tables.activities.write(self.activities)
        tables.deals.write(self.deals)
        tables.events.write(self.events)
        tally.statuses.update(self.statuses)
        tally.contacts += len(self.contacts)
        tally.activities += len(self.activities)
        tally.deals += len(self.deals)
        tally.events += len(self.events)


def _customer_row(customer_id: int, profile: CustomerProfile, story: Story) -> Row:
    return (
        customer_id,
        profile.name,
        profile.kind,
        profile.credit_code,
        profile.phone,
        profile.email,
        profile.industry,
        profile.province,
        profile.city,
        profile.address,
        profile.employees,
        profile.revenue_band,
        profile.source,
        profile.campaign,
        profile.level,
        story.stage,
        profile.tags,
        profile.custom_fields,
        story.created_by_id,
        story.created_at,
        story.updated_at,
        story.status,
        story.pool_id,
        story.owner_id,
        story.owned_since,
        story.frozen_until,
        story.last_effective_at,
        story.last_activity_at,
        story.recycle_due_at,
        story.warn_at,
        story.previous_owner_id,
    )
