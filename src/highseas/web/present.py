"""How a customer looks on a page: masked fields already masked, countdowns already counted.

Templates never receive a raw ``Customer`` for a row the viewer sees masked: they receive a
``CustomerView`` whose personal fields went through ``mask_value`` here, server-side.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from highseas.accounts.visibility import Viewer
from highseas.customers.models import Customer
from highseas.customers.regions import label
from highseas.engine.masking import mask_value
from highseas.routing.explain import rule_actor_name

PERSONAL_FIELDS = ("phone", "email", "credit_code", "address")
HOUR = 3600
DAY = 24 * HOUR


@dataclass(frozen=True)
class Countdown:
    """Time left until ``due_at``; ``tone`` is for colour only."""

    due_at: datetime
    seconds: int
    is_warned: bool

    @property
    def is_overdue(self) -> bool:
        return self.seconds <= 0

    @property
    def days(self) -> int:
        return abs(self.seconds) // DAY

    @property
    def hours(self) -> int:
        return abs(self.seconds) % DAY // HOUR

    @property
    def text(self) -> str:
        if self.is_overdue:
            return _("Overdue, back to the pool at the next sweep")
        if self.days == 0:
            return _("%(hours)s h left") % {"hours": max(self.hours, 1)}
        if self.hours == 0:
            return _("%(days)s d left") % {"days": self.days}
        return _("%(days)s d %(hours)s h left") % {"days": self.days, "hours": self.hours}

    @property
    def tone(self) -> str:
        if self.is_overdue or self.seconds < DAY:
            return "danger"
        if self.is_warned or self.seconds < 3 * DAY:
            return "warn"
        return "ok"


def countdown(due_at: datetime | None, now: datetime, *, is_warned: bool) -> Countdown | None:
    if due_at is None:
        return None
    return Countdown(due_at, int((due_at - now).total_seconds()), is_warned)


@dataclass(frozen=True)
class CustomerView:
    """One customer as this viewer may see it."""

    id: int
    name: str
    kind: str
    phone: str
    email: str
    credit_code: str
    address: str
    industry: str
    province: str
    city: str
    employees: int | None
    revenue_band: str
    source: str
    campaign: str
    level: str
    stage: str
    stage_code: str
    status: str
    status_code: str
    owner_id: int | None
    owner_name: str
    pool_id: int | None
    pool_name: str
    owned_since: datetime | None
    frozen_until: datetime | None
    last_effective_activity_at: datetime | None
    last_activity_at: datetime | None
    created_at: datetime
    was_owned_before: bool
    masked_fields: frozenset[str]
    countdown: Countdown | None

    @property
    def is_masked(self) -> bool:
        return bool(self.masked_fields)

    @property
    def region(self) -> str:
        """``浙江 杭州`` in Chinese, ``Hangzhou, Zhejiang`` in English (``regions.label``)."""
        parts = [part for part in (self.province, self.city) if part]
        if (translation.get_language() or "").startswith("en"):
            return ", ".join(label(part) for part in reversed(parts))
        return " ".join(parts)


def present(
    viewer: Viewer, customer: Customer, now: datetime, *, is_warned: bool = False
) -> CustomerView:
    masked = viewer.masked_fields(customer)

    def shown(field: str) -> str:
        value = getattr(customer, field) or ""
        return str(mask_value(field, value)) if field in masked else str(value)

    return CustomerView(
        id=customer.pk,
        name=customer.name,
        kind=customer.get_kind_display(),
        phone=shown("phone"),
        email=shown("email"),
        credit_code=shown("credit_code"),
        address=shown("address"),
        industry=customer.industry,
        province=customer.province,
        city=customer.city,
        employees=customer.employees,
        revenue_band=customer.get_revenue_band_display() if customer.revenue_band else "",
        source=customer.get_source_display(),
        campaign=customer.campaign,
        level=customer.level,
        stage=customer.get_stage_display(),
        stage_code=customer.stage,
        status=customer.get_status_display(),
        status_code=customer.status,
        owner_id=customer.owner_id,
        owner_name=customer.owner.label if customer.owner else "",
        pool_id=customer.pool_id,
        pool_name=customer.pool.name if customer.pool else "",
        owned_since=customer.owned_since,
        frozen_until=customer.frozen_until,
        last_effective_activity_at=customer.last_effective_activity_at,
        last_activity_at=customer.last_activity_at,
        created_at=customer.created_at,
        was_owned_before=customer.previous_owner_id is not None,
        masked_fields=masked,
        countdown=countdown(customer.recycle_due_at, now, is_warned=is_warned),
    )


EVENT_LABELS = {
    "created": lambda: pgettext("ledger", "Created"),
    "claimed": lambda: pgettext("ledger", "Claimed"),
    "assigned": lambda: pgettext("ledger", "Assigned"),
    "transferred": lambda: pgettext("ledger", "Transferred"),
    "released": lambda: pgettext("ledger", "Released"),
    "recycled": lambda: pgettext("ledger", "Recycled"),
    "frozen": lambda: pgettext("ledger", "Frozen"),
    "unfrozen": lambda: pgettext("ledger", "Unfrozen"),
    "merged": lambda: pgettext("ledger", "Merged"),
}


def event_label(kind: str) -> str:
    label = EVENT_LABELS.get(kind)
    return label() if label else kind


def actor_label(actor_name: str | None, raw_label: str) -> str:
    """A person's name, or the system with the rule that acted (an assignment rule by name)."""
    if actor_name:
        return actor_name
    if (rule_name := rule_actor_name(raw_label)) is not None:
        return _("Assignment rule «%(rule)s»") % {"rule": rule_name}
    if raw_label.startswith("system:"):
        return _("System (%(rule)s)") % {"rule": rule_label(raw_label.partition(":")[2])}
    return _("System")


RULE_LABELS = {
    "idle_limit": lambda: _("idle limit"),
    "no_deal_limit": lambda: _("no-deal limit"),
    "first_contact_limit": lambda: _("first-contact limit"),
    "freeze_ended": lambda: _("freeze ended"),
    "won_repurchase": lambda: _("repurchase window"),
    "web_form": lambda: _("web form"),
    "ad_leads": lambda: _("ad leads"),
    "rescore": lambda: _("value rescoring"),
}


def rule_label(rule: str) -> str:
    label = RULE_LABELS.get(rule)
    return label() if label else rule
