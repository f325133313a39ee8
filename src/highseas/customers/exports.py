"""Exports of customers and of their follow-ups, as one viewer may see them (SPEC §2, §13).

``start_export(viewer, kind, filters, file_format)`` is the one door for every adapter (API,
web, CLI). It decides, in this order:

1. the selection: ``Viewer.customers()`` (what the caller may see), narrowed by the same
   filters as the customer list (``ExportFilters``: status, pool, owner, province, city,
   industry, level, source, stage, q; ``due`` for the pages' "due within N days");
2. a rep's scope: their own customers only, unless ``HIGHSEAS_REP_EXPORT_SCOPE`` is
   ``visible`` (then everything they see, masked as they see it). Managers and admins export
   what they see;
3. the fields: each customer row is masked by ``Viewer.mask`` exactly as the caller sees the
   customer. Follow-ups go out only for customers whose follow-ups reach the caller
   (``customers.timeline.shows_follow_ups``: the customers they see in full);
4. the audit row: one ``export`` row per export, written before the first row goes out, with
   the kind, the format, the filters, the scope and ``rows``, the number of rows the export
   selects, counted at its start (the log is append-only, so the count is not amended later;
   rows created while a long export streams may add to the file, never to what it may see);
5. the rows: read in keyset chunks by id (``CHUNK`` at a time), so that an export of a million
   customers holds one chunk in memory, never the whole result.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.text import capfirst
from django.utils.translation import gettext as _

from highseas.accounts.audit import record_audit
from highseas.accounts.models import AuditLog, User
from highseas.accounts.visibility import Viewer
from highseas.customers.choices import CustomerStatus
from highseas.customers.models import Activity, Customer
from highseas.customers.timeline import shows_follow_ups
from highseas.engine.bounds import MAX_DAYS, MAX_ID, parse_number
from highseas.engine.errors import ErrorCode, HighSeasError
from highseas.pools.models import Pool

CHUNK = 2000
TEXT_FILTERS = ("province", "city", "industry", "level", "source", "stage", "q")


class ExportKind(enum.StrEnum):
    CUSTOMERS = "customers"
    ACTIVITIES = "activities"


class ExportFormat(enum.StrEnum):
    CSV = "csv"
    XLSX = "xlsx"


def _refuse(name: str, message: str) -> HighSeasError:
    return HighSeasError(
        ErrorCode.VALIDATION_ERROR, _("Check the export's filters."), errors={name: [message]}
    )


@dataclass(frozen=True)
class ExportFilters:
    """The customer list's filters (``status`` may name several, comma-separated)."""

    status: tuple[str, ...] = ()
    pool: int | None = None
    owner: int | None = None
    province: str = ""
    city: str = ""
    industry: str = ""
    level: str = ""
    source: str = ""
    stage: str = ""
    q: str = ""
    due: int | None = None  # recycle due within this many days

    @classmethod
    def parse(cls, params: Mapping[str, Any]) -> ExportFilters:
        """Read a query string's filters; a malformed one is a ``validation_error``."""
        statuses = tuple(s for s in str(params.get("status") or "").split(",") if s)
        for status in statuses:
            if status not in CustomerStatus.values:
                raise _refuse("status", f"not one of {', '.join(CustomerStatus.values)}")
        numbers: dict[str, int | None] = {}
        for name in ("pool", "owner", "due"):
            raw = str(params.get(name) or "").strip()
            numbers[name] = parse_number(raw, limit=MAX_DAYS if name == "due" else MAX_ID)
            if raw and numbers[name] is None:
                raise _refuse(name, "not a number" if name != "due" else f"0 to {MAX_DAYS}")
        texts = {name: str(params.get(name) or "").strip() for name in TEXT_FILTERS}
        return cls(statuses, numbers["pool"], numbers["owner"], **texts, due=numbers["due"])

    def as_facts(self) -> dict[str, Any]:
        """The filters that are set, for the audit row."""
        facts = {name: value for name, value in asdict(self).items() if value not in ("", None)}
        if self.status:
            facts["status"] = list(self.status)
        else:
            facts.pop("status", None)
        return facts

    def narrow(self, customers: QuerySet[Customer], now: datetime) -> QuerySet[Customer]:
        if self.status:
            customers = customers.filter(status__in=self.status)
        if self.pool is not None:
            customers = customers.filter(pool_id=self.pool)
        if self.owner is not None:
            customers = customers.filter(owner_id=self.owner)
        exact = {name: getattr(self, name) for name in TEXT_FILTERS[:-1] if getattr(self, name)}
        if self.q:
            customers = customers.filter(name__icontains=self.q)
        if self.due is not None:
            customers = customers.filter(recycle_due_at__lte=now + timedelta(days=self.due))
        return customers.filter(**exact)


@dataclass(frozen=True)
class Column:
    key: str
    header: str


@dataclass
class Export:
    """One export under way: its header, its size, and its rows, read lazily in chunks."""

    kind: ExportKind
    file_format: ExportFormat
    columns: list[Column]
    count: int
    rows: Iterator[list[Any]]
    file_name: str
    audit: AuditLog
    written: int = field(default=0)

    @property
    def headers(self) -> list[str]:
        return [column.header for column in self.columns]

    def close(self) -> None:
        """Close the rows' cursor now, read to the end or not."""
        _close(self.rows)


def rep_export_scope() -> str:
    scope = getattr(settings, "HIGHSEAS_REP_EXPORT_SCOPE", "own")
    return scope if scope in ("own", "visible") else "own"


def exportable_customers(
    viewer: Viewer, filters: ExportFilters, *, now: datetime | None = None
) -> QuerySet[Customer]:
    """Rules 1 and 2: the customers an export of this viewer selects, in id order."""
    customers = viewer.customers()
    if not viewer.is_manager_or_admin and rep_export_scope() == "own":
        customers = customers.filter(owner=viewer.user)
    return filters.narrow(customers, now or timezone.now()).order_by("pk")


def _chunks(customers: QuerySet[Customer]) -> Iterator[list[Customer]]:
    """Keyset pages by id: each query starts after the last id of the previous one."""
    last = 0
    while True:
        chunk = list(customers.filter(pk__gt=last)[:CHUNK])
        if not chunk:
            return
        yield chunk
        last = chunk[-1].pk


def _in_full_chunks(viewer: Viewer, customers: QuerySet[Customer]) -> Iterator[list[int]]:
    """Rule 3 for follow-ups: per chunk, the ids of customers whose follow-ups reach the
    viewer, decided by the timeline's rule."""
    for chunk in _chunks(customers):
        ids = [customer.pk for customer in chunk if shows_follow_ups(viewer, customer)]
        if ids:
            yield ids


def _local(moment: datetime | None) -> datetime | None:
    return timezone.localtime(moment).replace(tzinfo=None) if moment else None


def _header(model: type[Customer] | type[Activity], name: str) -> str:
    field: Any = model._meta.get_field(name)
    return str(capfirst(field.verbose_name))


CUSTOMER_FIELDS = (
    "name", "kind", "credit_code", "phone", "email", "industry", "province", "city",
    "address", "employees", "revenue_band", "source", "campaign", "level", "stage", "tags",
    "status", "owner", "pool", "owned_since", "last_effective_activity_at", "recycle_due_at",
    "created_at",
)  # fmt: skip
CHOICE_FIELDS = ("kind", "revenue_band", "source", "stage", "status")
ACTIVITY_FIELDS = ("kind", "occurred_at", "author", "note", "outcome", "next_contact_at")


def customer_columns() -> list[Column]:
    return [Column("id", "ID")] + [Column(n, _header(Customer, n)) for n in CUSTOMER_FIELDS]


def activity_columns() -> list[Column]:
    return [
        Column("id", "ID"),
        Column("customer_id", _("Customer ID")),
        Column("customer", str(capfirst(Customer._meta.verbose_name))),
        *(Column(name, _header(Activity, name)) for name in ACTIVITY_FIELDS),
    ]


def _choices(name: str) -> list[tuple[str, Any]]:
    field: Any = Customer._meta.get_field(name)
    return list(field.choices or ())


class CustomerRows:
    """Customers as export rows: choice labels looked up once per export, and each owner and
    pool read once (a model instance per row for them would cost more than the row)."""

    def __init__(self, viewer: Viewer) -> None:
        self.viewer = viewer
        self.labels = {
            name: {value: str(label) for value, label in _choices(name)} for name in CHOICE_FIELDS
        }
        self.owners: dict[int, User] = {}
        self.pools: dict[int, Pool] = {}

    def attach(self, chunk: list[Customer]) -> None:
        """Give each customer of the chunk its owner and pool, for ``Viewer.mask``."""
        owners = {c.owner_id for c in chunk if c.owner_id} - set(self.owners)
        self.owners.update(User.objects.in_bulk(list(owners)))
        pools = {c.pool_id for c in chunk if c.pool_id} - set(self.pools)
        self.pools.update(Pool.objects.in_bulk(list(pools)))
        for customer in chunk:
            customer.owner = self.owners.get(customer.owner_id) if customer.owner_id else None
            customer.pool = self.pools.get(customer.pool_id) if customer.pool_id else None

    def values(self, customer: Customer) -> dict[str, Any]:
        """A customer's export values by field name, before masking."""
        values: dict[str, Any] = {"id": customer.pk}
        for name in CUSTOMER_FIELDS:
            values[name] = getattr(customer, name, None)
        for name, labels in self.labels.items():
            values[name] = labels.get(values[name], values[name] or "")
        values["tags"] = "，".join(str(tag) for tag in customer.tags or ())
        values["owner"] = customer.owner.label if customer.owner else ""
        values["pool"] = customer.pool.name if customer.pool else ""
        for name in ("owned_since", "last_effective_activity_at", "recycle_due_at", "created_at"):
            values[name] = _local(values[name])
        return values

    def __call__(self, customers: QuerySet[Customer]) -> Iterator[list[Any]]:
        keys = ["id", *CUSTOMER_FIELDS]
        for chunk in _chunks(customers.select_related(None)):
            self.attach(chunk)
            for customer in chunk:
                masked = self.viewer.mask(customer, self.values(customer))
                yield [masked[key] for key in keys]


def _activities_of(ids: list[int]) -> QuerySet[Activity]:
    return (
        Activity.objects.filter(customer_id__in=ids)
        .select_related("customer", "author")
        .order_by("customer_id", "occurred_at", "pk")
    )


def _activity_rows(viewer: Viewer, customers: QuerySet[Customer]) -> Iterator[list[Any]]:
    for ids in _in_full_chunks(viewer, customers):
        for activity in _activities_of(ids).iterator(chunk_size=CHUNK):
            yield [
                activity.pk,
                activity.customer_id,
                activity.customer.name,
                activity.get_kind_display(),
                _local(activity.occurred_at),
                activity.author.label if activity.author else "",
                activity.note,
                activity.outcome,
                _local(activity.next_contact_at),
            ]


def _activity_count(viewer: Viewer, customers: QuerySet[Customer]) -> int:
    return sum(
        Activity.objects.filter(customer_id__in=ids).count()
        for ids in _in_full_chunks(viewer, customers)
    )


def _counted(export_rows: Iterator[list[Any]], export: Export) -> Iterator[list[Any]]:
    """The rows, counted as they go; closing it closes the rows' cursor at once (the export
    and this generator refer to each other, so otherwise only a full garbage collection would,
    and a kept SQLite connection would go on reading an old snapshot meanwhile)."""
    try:
        for row in export_rows:
            export.written += 1
            yield row
    finally:
        _close(export_rows)


def _close(rows: Iterator[list[Any]]) -> None:
    close = getattr(rows, "close", None)
    if close is not None:
        close()


def start_export(
    viewer: Viewer,
    kind: ExportKind | str,
    *,
    filters: ExportFilters,
    file_format: ExportFormat | str = ExportFormat.CSV,
    address: str | None = None,
    now: datetime | None = None,
) -> Export:
    """Select, count and audit one export; its rows are read as the caller consumes them."""
    if kind not in ExportKind.__members__.values():
        raise _refuse("kind", f"not one of {', '.join(ExportKind)}")
    if file_format not in ExportFormat.__members__.values():
        raise _refuse("format", f"not one of {', '.join(ExportFormat)}")
    kind, file_format = ExportKind(kind), ExportFormat(file_format)
    now = now or timezone.now()
    customers = exportable_customers(viewer, filters, now=now)
    if kind == ExportKind.CUSTOMERS:
        columns, count = customer_columns(), customers.count()
        rows = CustomerRows(viewer)(customers)
    else:
        columns, count = activity_columns(), _activity_count(viewer, customers)
        rows = _activity_rows(viewer, customers)
    scope = rep_export_scope() if not viewer.is_manager_or_admin else "visible"
    audit = record_audit(
        viewer.user,
        AuditLog.Action.EXPORT,
        target_type=kind.value,
        address=address,
        format=file_format.value,
        filters=filters.as_facts(),
        scope=scope,
        rows=count,
    )
    stamp = timezone.localtime(now).strftime("%Y%m%d-%H%M%S")
    export = Export(
        kind, file_format, columns, count, iter(()), f"{kind.value}-{stamp}.{file_format}", audit
    )
    export.rows = _counted(rows, export)
    return export
