"""``highseas bench sweep`` (SPEC §12): the recycle sweep over N owned customers, P % of them
due, beside the raw-SQL bulk recycle of the same rows.

The dataset lives in the pool ``bench-sweep-pool`` (its marker), whose recycle policy is an idle
limit of 15 days with a warning 3 days before, back to the same pool. Every customer was created
straight into ownership (a ``created`` ledger row from nothing to ``owned``), owned by one of R
reps since its creation time. Every time is a function of the customer's id and the bench's
fixed ``NOW``, and ``recycle_due_at`` / ``warn_at`` are what the engine computes from them:

* *quiet*: the last effective follow-up 1 hour to 11 days before ``NOW``, so the customer falls
  due 4 to 15 days after ``NOW`` and is warned after ``NOW`` too;
* *armed*: the last effective follow-up 15 to 16 days before ``NOW``: due up to a day before it.

One run:
1. build (or top up) the dataset, every customer quiet; put back to quiet any customer an
   earlier run left armed or recycled (``normalize``);
2. ``sweep(NOW)`` with nothing due, ``IDLE_RUNS`` times (median), beside the raw keyset SELECT
   that finds nothing;
3. arm exactly P % of the customers, spread over the id range;
4. preview (``dry_run``) at ``NOW``, beside the raw keyset SELECT of the due rows;
5. the real ``sweep(NOW)``: it must recycle exactly the armed customers, once each;
6. re-arm them (raw SQL: owned again, their due times back, the ``recycled`` ledger rows and the
   owners' notifications removed), then the raw baseline on the same rows: per batch of 500,
   one conditional ``UPDATE … WHERE status = 'owned' AND recycle_due_at <= NOW`` and one
   multi-row ledger INSERT, in a transaction; and re-arm again, whatever happened, so the
   dataset is reusable and ``highseas check`` passes.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db import connection, transaction
from django.db.models import Count, Max, Min
from tqdm import tqdm

from highseas.accounts import services as accounts
from highseas.accounts.models import RepProfile, Role, Team, User
from highseas.bench import BenchError, chunked, has_customers, report
from highseas.bench.breakdown import describe, profiled
from highseas.bench.dataset import (
    CITIES,
    INDUSTRIES,
    LEVELS,
    PROVINCES,
    SOURCES,
    TRADES,
    RowTemplate,
    _brand,
    _fast_user,
    _reset_sequences,
    _write,
)
from highseas.customers.choices import CustomerStatus
from highseas.customers.fts import search_index_suspended
from highseas.customers.models import Customer
from highseas.engine.ownership import EventKind
from highseas.notify.models import Notification
from highseas.pools import services as pools
from highseas.pools.models import OwnershipEvent, Pool, RecycleDestination
from highseas.pools.sweep import Scope, SweepReport, sweep

POOL_NAME = "bench-sweep-pool"
TEAM_NAME = "bench-sweep-team"
MANAGER_USERNAME = "bench-sweep-manager"
REP_PREFIX = "bench-sweep-rep-"
MARK = "bench:baseline"
BATCH = 10_000  # customers per committed build batch
CHUNK = 500  # rows per statement when arming and restoring

IDLE_DAYS, WARN_DAYS = 15, 3
RECYCLE_POLICY: dict[str, Any] = {
    "idle_days": IDLE_DAYS,
    "warn_days": WARN_DAYS,
    "destination": RecycleDestination.SAME_POOL,
}
IDLE, WARN, DAY = timedelta(days=IDLE_DAYS), timedelta(days=WARN_DAYS), 86_400

# The bench's clock. Creation times follow the ids, 20 s apart, and wrap after a million, so
# every customer has been owned for months before NOW.
NOW = datetime(2025, 1, 1, 12, tzinfo=UTC)
CREATED_FROM = datetime(2024, 1, 1, tzinfo=UTC)
CREATION_STEP = timedelta(seconds=20)
CREATION_CYCLE = 1_000_000

TARGET_SECONDS = 3.0  # 1M owned, 1% due (SPEC §12)
IDLE_TARGET_SECONDS = 0.05  # a sweep with nothing due
IDLE_RUNS = 20

OWNED, POOLED = CustomerStatus.OWNED.value, CustomerStatus.POOLED.value
RECYCLED = EventKind.RECYCLED.value


@dataclass(frozen=True)
class SweepBenchOptions:
    customers: int = 1_000_000
    due_percent: float = 1.0
    reps: int = 100
    batch_size: int = 500
    idle_runs: int = IDLE_RUNS
    force: bool = False
    profile: bool = False  # one more real sweep under cProfile, for the breakdown


@dataclass(frozen=True)
class Dataset:
    pool: Pool
    manager: User
    reps: list[User]
    customers: int
    inserted: int
    build_seconds: float
    scope: Scope | None  # the bench pool only, when other customers share the database


@dataclass(frozen=True)
class Timed:
    path: str
    rows: int
    seconds: float
    cpu_seconds: float = 0.0  # this process's (the database server's is not in it)

    @property
    def per_second(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0


# --- the customers' times ------------------------------------------------------------------


def created_at(customer_id: int) -> datetime:
    return CREATED_FROM + (customer_id % CREATION_CYCLE) * CREATION_STEP


def quiet_activity(customer_id: int) -> datetime:
    """A last effective follow-up that puts the due time 4 to 15 days after NOW."""
    return NOW - timedelta(seconds=3_600 + customer_id * 7_919 % (11 * DAY))


def armed_activity(customer_id: int) -> datetime:
    """A last effective follow-up that puts the due time within the day before NOW."""
    return NOW - IDLE - timedelta(seconds=60 + customer_id * 104_729 % (DAY - 60))


def plan(owned_since: datetime, last_effective: datetime) -> tuple[datetime, datetime]:
    """``(recycle_due_at, warn_at)`` as ``engine.recycle.schedule`` computes them under the
    bench policy (idle limit only)."""
    due = max(owned_since, last_effective) + IDLE
    return due, max(owned_since, due - WARN)


# --- the dataset ---------------------------------------------------------------------------


def _foreign_customers() -> bool:
    if not has_customers():
        return False
    pool_id = Pool.objects.filter(name=POOL_NAME).values_list("pk", flat=True).first()
    customers = Customer.objects.all()
    return (customers if pool_id is None else customers.exclude(pool_id=pool_id)).exists()


@transaction.atomic
def ensure_org(reps: int) -> tuple[Pool, User, list[User]]:
    manager = User.objects.filter(username=MANAGER_USERNAME).first()
    if manager is None:
        manager = _fast_user(MANAGER_USERNAME, "回收基准经理", Role.MANAGER, None)
        manager.save()
        RepProfile.objects.create(user=manager)
    team = Team.objects.filter(name=TEAM_NAME, manager=manager).first()
    if team is None:
        team = accounts.create_team(name=TEAM_NAME, manager=manager)
        User.objects.filter(pk=manager.pk).update(team=team)
        manager.team = team
    pool = Pool.objects.filter(name=POOL_NAME).first() or pools.save_pool(
        Pool(name=POOL_NAME, description="Dataset of `highseas bench sweep`."),
        claim_policy={},
        recycle_policy=RECYCLE_POLICY,
        member_teams=[team],
    )
    names = [f"{REP_PREFIX}{index:03d}" for index in range(1, reps + 1)]
    present = set(User.objects.filter(username__in=names).values_list("username", flat=True))
    missing = [name for name in names if name not in present]
    User.objects.bulk_create(
        [_fast_user(name, f"回收销售{name[-3:]}", Role.REP, team) for name in missing]
    )
    RepProfile.objects.bulk_create(
        [RepProfile(user=user) for user in User.objects.filter(username__in=missing)]
    )
    return pool, manager, list(User.objects.filter(username__in=names).order_by("pk"))


def prepare(options: SweepBenchOptions) -> Dataset:
    """Refuse foreign data (unless ``force``), migrate, and top the dataset up to
    ``options.customers`` owned customers."""
    if not options.force and _foreign_customers():
        raise BenchError(
            "this database holds customers that are not bench data; the benchmark writes a "
            "million owned customers and recycles some of them, so it runs only on an empty or "
            "bench database (use a scratch HIGHSEAS_DATA_DIR or DATABASE_URL, or pass --force)"
        )
    call_command("migrate", interactive=False, verbosity=0)
    pool, manager, reps = ensure_org(options.reps)
    existing = Customer.objects.filter(pool=pool).count()
    if existing > options.customers:
        raise BenchError(
            f"the sweep bench here has {existing} customers, more than the {options.customers} "
            "asked for; ask for that many, or use an empty database"
        )
    started = time.perf_counter()
    insert_customers(pool, manager, reps, options.customers - existing)
    elapsed = time.perf_counter() - started
    scope = Scope(pool_id=pool.pk) if _foreign_customers() else None
    return Dataset(
        pool, manager, reps, options.customers, options.customers - existing, elapsed, scope
    )


def _templates(pool: Pool, manager: User) -> tuple[RowTemplate, RowTemplate]:
    customers = RowTemplate(
        Customer, {"status": OWNED, "pool": pool.pk, "created_by": manager.pk}, ()
    )
    ledger = RowTemplate(
        OwnershipEvent,
        {
            "kind": EventKind.CREATED.value,
            "from_status": "",
            "to_status": OWNED,
            "to_pool": pool.pk,
            "actor": manager.pk,
            "actor_label": manager.username,
            "reason": "Created by highseas bench sweep",
        },
        ("id",),
    )
    return customers, ledger


def _rows(
    customers: RowTemplate, ledger: RowTemplate, reps: Sequence[User], first_id: int, count: int
) -> tuple[list[list[Any]], list[list[Any]]]:
    """One batch of quiet owned customers and their ``created`` ledger rows."""
    adapt = connection.ops.adapt_datetimefield_value
    customer_rows, ledger_rows = [], []
    for customer_id in range(first_id, first_id + count):
        city = customer_id % len(CITIES)
        owner = reps[customer_id % len(reps)].pk
        since, activity = created_at(customer_id), quiet_activity(customer_id)
        due, warn = plan(since, activity)
        at = adapt(since)
        customer_rows.append(
            customers.row(
                id=customer_id,
                name=f"{CITIES[city]}{_brand(customer_id)}{TRADES[customer_id // 7 % 10]}有限公司",
                phone=f"15{customer_id:09d}",
                email=f"s{customer_id}@example.com",
                industry=INDUSTRIES[customer_id % len(INDUSTRIES)],
                province=PROVINCES[city],
                city=CITIES[city],
                level=LEVELS[customer_id % len(LEVELS)].value,
                source=SOURCES[customer_id % len(SOURCES)].value,
                created_at=at,
                updated_at=at,
                owner=owner,
                owned_since=at,
                last_effective_activity_at=adapt(activity),
                last_activity_at=adapt(activity),
                recycle_due_at=adapt(due),
                warn_at=adapt(warn),
            )
        )
        ledger_rows.append(ledger.row(customer=customer_id, to_owner=owner, at=at))
    return customer_rows, ledger_rows


def insert_customers(pool: Pool, manager: User, reps: Sequence[User], count: int) -> None:
    """Append ``count`` quiet owned customers with their ``created`` ledger rows, in committed
    batches of raw INSERTs (``COPY`` on PostgreSQL), showing progress on stderr; SQLite's
    search index is rebuilt once at the end instead of row by row."""
    if count <= 0:
        return
    customers, ledger = _templates(pool, manager)
    first_id = (Customer.objects.aggregate(top=Max("id"))["top"] or 0) + 1
    with (
        search_index_suspended(connection),
        tqdm(total=count, desc="sweep dataset", unit=" customers", file=sys.stderr) as bar,
    ):
        try:
            for start in range(first_id, first_id + count, BATCH):
                size = min(BATCH, first_id + count - start)
                customer_rows, ledger_rows = _rows(customers, ledger, reps, start, size)
                with transaction.atomic():
                    _write(customers, customer_rows)
                    _write(ledger, ledger_rows)
                bar.update(size)
        finally:
            _reset_sequences()
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {connection.ops.quote_name(Customer._meta.db_table)}")


# --- arming and restoring ------------------------------------------------------------------


def _quoted(model: type[Customer] | type[OwnershipEvent], *names: str) -> list[str]:
    columns = {field.name: field.column for field in model._meta.concrete_fields}
    return [connection.ops.quote_name(columns[name]) for name in names]


def _table(model: type[Customer] | type[OwnershipEvent]) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def set_state(pool: Pool, customer_ids: Sequence[int], activity: Callable[[int], datetime]) -> None:
    """Make these customers of the pool owned again by their owner (or the owner a recycle
    took them from), owned since their creation, with ``activity``'s last follow-up and the
    due times that follow from it; drop the ``recycled`` ledger rows a sweep or the baseline
    wrote for them and the notifications of the bench's reps about recycling. Raw SQL, since
    the ledger model refuses deletes: these are the bench's own runs, undone."""
    adapt = connection.ops.adapt_datetimefield_value
    status, owner, previous, since, effective, last, due, warn, pk = _quoted(
        Customer,
        *("status", "owner", "previous_owner", "owned_since", "last_effective_activity_at"),
        *("last_activity_at", "recycle_due_at", "warn_at", "id"),
    )
    update = (
        f"UPDATE {_table(Customer)} SET {status} = %s, {owner} = %s, {previous} = NULL, "
        f"{since} = %s, {effective} = %s, {last} = %s, {due} = %s, {warn} = %s WHERE {pk} = %s"
    )
    ledger_customer, ledger_kind = _quoted(OwnershipEvent, "customer", "kind")
    for chunk in chunked(customer_ids, CHUNK):
        rows = Customer.objects.filter(pool=pool, pk__in=chunk).values_list(
            "pk", "owner_id", "previous_owner_id", "created_at"
        )
        params: list[tuple[Any, ...]] = []
        for customer_id, owner_id, previous_id, created in rows:
            if owner_id is None and previous_id is None:
                raise BenchError(f"customer {customer_id} has lost its owner; rebuild the dataset")
            when = activity(customer_id)
            due_at, warn_at = plan(created, when)
            params.append(
                (
                    *(OWNED, owner_id or previous_id, adapt(created), adapt(when), adapt(when)),
                    *(adapt(due_at), adapt(warn_at), customer_id),
                )
            )
        marks = ", ".join(["%s"] * len(chunk))
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.executemany(update, params)
            cursor.execute(
                f"DELETE FROM {_table(OwnershipEvent)} "
                f"WHERE {ledger_customer} IN ({marks}) AND {ledger_kind} = %s",
                [*chunk, RECYCLED],
            )
    Notification.objects.filter(
        recipient__username__startswith=REP_PREFIX, kind__in=["recycled", "recycle_warning"]
    ).delete()


def normalize(pool: Pool) -> int:
    """Put back to quiet every customer an earlier run left armed or recycled."""
    in_pool = Customer.objects.filter(pool=pool)
    pooled = list(in_pool.filter(status=POOLED).values_list("pk", flat=True))
    armed = list(in_pool.filter(status=OWNED, recycle_due_at__lte=NOW).values_list("pk", flat=True))
    stale = sorted({*pooled, *armed})
    set_state(pool, stale, quiet_activity)
    return len(stale)


def pick_due(pool: Pool, percent: float) -> list[int]:
    """Exactly ``percent`` % of the pool's customers (rounded, at least one), evenly spread
    over its id range."""
    bounds = Customer.objects.filter(pool=pool).aggregate(
        low=Min("id"), high=Max("id"), n=Count("id")
    )
    total = bounds["n"]
    ids: Sequence[int] = (
        range(bounds["low"], bounds["high"] + 1)
        if total and bounds["high"] - bounds["low"] + 1 == total
        else list(Customer.objects.filter(pool=pool).order_by("pk").values_list("pk", flat=True))
    )
    due = max(1, round(total * percent / 100))
    return [ids[position * total // due] for position in range(due)]


# --- the raw-SQL baselines -----------------------------------------------------------------


class RawSweep:
    """The due rows found and recycled with the DB-API cursor, in keyset batches."""

    def __init__(self, scope: Scope | None, batch_size: int) -> None:
        connection.ensure_connection()
        self.batch_size = batch_size
        mark = "?" if connection.vendor == "sqlite" else "%s"
        self.mark = mark
        status, owner, previous, since, due, warn, pk, pool = _quoted(
            Customer,
            *("status", "owner", "previous_owner", "owned_since", "recycle_due_at", "warn_at"),
            *("id", "pool"),
        )
        self.due_col, self.pk_col = due, pk
        in_scope = f" AND {pool} = {scope.pool_id}" if scope and scope.pool_id else ""
        self.due = f"{status} = '{OWNED}' AND {due} <= {mark}{in_scope}"
        self.select = (
            f"SELECT {pk}, {owner}, {pool}, {due} FROM {_table(Customer)} WHERE {self.due}"
        )
        batch = (
            f"SELECT {pk} FROM {_table(Customer)} WHERE {self.due} "
            f"ORDER BY {due}, {pk} LIMIT {batch_size}"
        )
        # On PostgreSQL ``IN (subquery)`` is planned as a hash semi-join that walks every due
        # row for each batch (the due rows are estimated at a hundred, whatever their number);
        # ``= ANY(ARRAY(…))`` reads the batch's ids first and then each row by its key.
        chosen = f"= ANY(ARRAY({batch}))" if connection.vendor == "postgresql" else f"IN ({batch})"
        self.update = (
            f"UPDATE {_table(Customer)} SET {status} = '{POOLED}', {previous} = {owner}, "
            f"{owner} = NULL, {since} = NULL, {due} = NULL, {warn} = NULL "
            f"WHERE {pk} {chosen} AND {self.due} "
            f"RETURNING {pk}, {previous}, {pool}"
        )
        self.ledger_columns = _quoted(
            OwnershipEvent,
            *("customer", "kind", "from_status", "from_owner", "from_pool", "to_status"),
            *("to_pool", "actor_label", "reason", "policy_ref", "at"),
        )

    def select_due(self, now: datetime) -> Timed:
        """Read every due row with its owner, batch by batch in keyset order (what a preview
        must at least read)."""
        at = connection.ops.adapt_datetimefield_value(now)
        cursor = connection.connection.cursor()
        order = f" ORDER BY {self.due_col}, {self.pk_col} LIMIT {self.batch_size}"
        due, pk, mark = self.due_col, self.pk_col, self.mark
        after = f" AND ({due} > {mark} OR ({due} = {mark} AND {pk} > {mark}))"
        found = 0
        started = time.perf_counter()
        try:
            rows = cursor.execute(self.select + order, (at,)).fetchall()
            while rows:
                found += len(rows)
                last_due, last_id = rows[-1][3], rows[-1][0]
                cursor.execute(self.select + after + order, (at, last_due, last_due, last_id))
                rows = cursor.fetchall()
        finally:
            cursor.close()
        return Timed("raw_select_due", found, time.perf_counter() - started)

    def recycle(self, now: datetime) -> Timed:
        """Per batch, in one transaction: the conditional UPDATE of up to ``batch_size`` due
        rows, and one multi-row INSERT of their ``recycled`` ledger rows."""
        at = connection.ops.adapt_datetimefield_value(now)
        columns = ", ".join(self.ledger_columns)
        row_marks = "(" + ", ".join([self.mark] * len(self.ledger_columns)) + ")"
        recycled = 0
        started, cpu = time.perf_counter(), time.process_time()
        while True:
            with transaction.atomic():
                cursor = connection.connection.cursor()
                try:
                    cursor.execute(self.update, (at, at))
                    rows = cursor.fetchall()
                    if not rows:
                        break
                    params: list[Any] = []
                    for customer_id, owner_id, pool_id in rows:
                        params += [
                            *(customer_id, RECYCLED, OWNED, owner_id, pool_id, POOLED, pool_id),
                            *("system:idle_limit", "Idle limit (raw baseline)", MARK, at),
                        ]
                    cursor.execute(
                        f"INSERT INTO {_table(OwnershipEvent)} ({columns}) VALUES "
                        + ", ".join([row_marks] * len(rows)),
                        params,
                    )
                finally:
                    cursor.close()
            recycled += len(rows)
        return Timed(
            "raw_update_and_ledger",
            recycled,
            time.perf_counter() - started,
            time.process_time() - cpu,
        )


# --- measuring -----------------------------------------------------------------------------


def _timed_sweep(
    dataset: Dataset, options: SweepBenchOptions, *, dry_run: bool
) -> tuple[SweepReport, float, float]:
    """The sweep's report, wall-clock seconds and this process's CPU seconds."""
    started, cpu = time.perf_counter(), time.process_time()
    report = sweep(NOW, dry_run=dry_run, batch_size=options.batch_size, scope=dataset.scope)
    return report, time.perf_counter() - started, time.process_time() - cpu


@dataclass(frozen=True)
class Measured:
    due: list[int]
    restored: int
    idle: list[float]
    idle_raw: list[float]
    preview: tuple[SweepReport, float, float]
    real: tuple[SweepReport, float, float]
    ledger_recycled: int
    ledger_customers: int
    select_due: Timed
    raw: Timed
    breakdown: dict[str, Any] | None = None


def measure(dataset: Dataset, options: SweepBenchOptions) -> Measured:
    pool = dataset.pool
    restored = normalize(pool)
    raw = RawSweep(dataset.scope, options.batch_size)
    idle: list[float] = []
    idle_raw: list[float] = []
    for _ in range(options.idle_runs):
        report, seconds, _cpu = _timed_sweep(dataset, options, dry_run=False)
        if report.recycled or report.warned or report.unfrozen or report.corrected:
            raise BenchError(f"a sweep with nothing due did something: {report.as_dict()}")
        idle.append(seconds)
        idle_raw.append(raw.select_due(NOW).seconds)
    due = pick_due(pool, options.due_percent)
    set_state(pool, due, armed_activity)
    try:
        select_due = raw.select_due(NOW)
        preview = _timed_sweep(dataset, options, dry_run=True)
        real = _timed_sweep(dataset, options, dry_run=False)
        events = OwnershipEvent.objects.filter(kind=RECYCLED, from_pool=pool, at=NOW)
        counted = events.aggregate(rows=Count("id"), customers=Count("customer", distinct=True))
        set_state(pool, due, armed_activity)
        baseline = raw.recycle(NOW)
        set_state(pool, due, armed_activity)
        breakdown = None
        if options.profile:
            _report, breakdown = profiled(
                lambda: sweep(NOW, batch_size=options.batch_size, scope=dataset.scope)
            )
    finally:
        set_state(pool, due, armed_activity)
    return Measured(
        due,
        restored,
        idle,
        idle_raw,
        preview,
        real,
        counted["rows"],
        counted["customers"],
        select_due,
        baseline,
        breakdown,
    )


# --- figures -------------------------------------------------------------------------------


def _load() -> list[float]:
    return [round(value, 2) for value in os.getloadavg()]


def _recycled_ids(report: SweepReport) -> list[int]:
    return sorted(item.customer for item in report.recycled)


def figures(dataset: Dataset, options: SweepBenchOptions, m: Measured) -> list[dict[str, Any]]:
    common = {
        "bench": "sweep",
        "db": connection.vendor,
        "customers": dataset.customers,
        "due": len(m.due),
        "due_percent": options.due_percent,
        "reps": len(dataset.reps),
        "load_average": _load(),
    }
    real, real_seconds, real_cpu = m.real
    preview, preview_seconds, _preview_cpu = m.preview
    due_ids = sorted(m.due)
    idle = statistics.median(m.idle)
    idle_raw = statistics.median(m.idle_raw)

    def versus(seconds: float, baseline: Timed | str, baseline_seconds: float) -> dict[str, Any]:
        return {
            "baseline": baseline if isinstance(baseline, str) else baseline.path,
            "baseline_seconds": round(baseline_seconds, 6),
            "ratio": round(seconds / baseline_seconds, 2) if baseline_seconds else None,
        }

    profile = [{**common, "path": "sweep_profile", **m.breakdown}] if m.breakdown else []
    return [
        *profile,
        {
            **common,
            "path": "dataset",
            "inserted": dataset.inserted,
            "build_seconds": round(dataset.build_seconds, 2),
            "rows_per_second": round(2 * dataset.inserted / dataset.build_seconds)
            if dataset.inserted
            else None,
            "restored": m.restored,
        },
        {
            **common,
            "path": "sweep",
            "recycled": len(real.recycled),
            "ledger_recycled": m.ledger_recycled,
            "ledger_customers": m.ledger_customers,
            "recycled_the_due": _recycled_ids(real) == due_ids,
            "corrected": real.corrected,
            "warned": len(real.warned),
            "batches": real.batches,
            "seconds": round(real_seconds, 4),
            "cpu_seconds": round(real_cpu, 4),
            "per_second": round(len(real.recycled) / real_seconds, 1),
            **versus(real_seconds, m.raw, m.raw.seconds),
            "target_seconds": TARGET_SECONDS,
            "meets_target": real_seconds < TARGET_SECONDS,
        },
        {
            **common,
            "path": m.raw.path,
            "recycled": m.raw.rows,
            "seconds": round(m.raw.seconds, 4),
            "cpu_seconds": round(m.raw.cpu_seconds, 4),
            "per_second": round(m.raw.per_second, 1),
        },
        {
            **common,
            "path": "sweep_nothing_due",
            "runs": len(m.idle),
            "seconds": round(idle, 5),
            "min_seconds": round(min(m.idle), 5),
            "max_seconds": round(max(m.idle), 5),
            "per_second": None,
            **versus(idle, "raw_select_nothing_due", idle_raw),
            "target_seconds": IDLE_TARGET_SECONDS,
            "meets_target": idle < IDLE_TARGET_SECONDS,
        },
        {
            **common,
            "path": "preview",
            "recycled": len(preview.recycled),
            "matches_sweep": _recycled_ids(preview) == _recycled_ids(real),
            "seconds": round(preview_seconds, 4),
            "per_second": round(len(preview.recycled) / preview_seconds, 1),
            **versus(preview_seconds, m.select_due, m.select_due.seconds),
        },
        {
            **common,
            "path": m.select_due.path,
            "rows": m.select_due.rows,
            "seconds": round(m.select_due.seconds, 4),
            "per_second": round(m.select_due.per_second, 1),
        },
    ]


def run(options: SweepBenchOptions) -> list[dict[str, Any]]:
    if not 0 < options.due_percent <= 100:
        raise BenchError("--due-percent must be more than 0 and at most 100")
    dataset = prepare(options)
    return figures(dataset, options, measure(dataset, options))


def summary(lines: list[dict[str, Any]]) -> str:
    by_path = {line["path"]: line for line in lines}
    dataset, real = by_path["dataset"], by_path["sweep"]
    raw, idle, preview = (
        by_path["raw_update_and_ledger"],
        by_path["sweep_nothing_due"],
        by_path["preview"],
    )
    built = (
        f"built {dataset['inserted']:,} customers in {dataset['build_seconds']:.1f} s"
        if dataset["inserted"]
        else "reused the dataset"
    )
    load = ", ".join(f"{value:.2f}" for value in real["load_average"])

    def verdict(line: dict[str, Any]) -> str:
        return "met" if line["meets_target"] else "missed"

    profile = by_path.get("sweep_profile")
    profiled_line = (
        [f"  profiled sweep {profile['profiled_seconds']:.2f} s, self time: {describe(profile)}"]
        if profile
        else []
    )
    return "\n".join(
        [
            f"sweep bench on {real['db']}: {real['customers']:,} owned customers ({built}), "
            f"{real['due']:,} due ({real['due_percent']} %), {real['reps']} reps; "
            f"load average {load}",
            f"  sweep                  {real['seconds']:>9.3f} s   {real['per_second']:>10,.0f} "
            f"customers/s   recycled {real['recycled']:,} (ledger {real['ledger_recycled']:,}), "
            f"{real['batches']} batches, CPU {real['cpu_seconds']:.3f} s",
            f"  raw_update_and_ledger  {raw['seconds']:>9.3f} s   {raw['per_second']:>10,.0f} "
            f"customers/s   sweep is {real['ratio']}× the raw baseline, "
            f"CPU {raw['cpu_seconds']:.3f} s",
            f"  preview (dry run)      {preview['seconds']:>9.3f} s   "
            f"{preview['per_second']:>10,.0f} customers/s   "
            f"{'matches' if preview['matches_sweep'] else 'DIFFERS FROM'} the sweep; raw SELECT "
            f"{preview['baseline_seconds']:.3f} s",
            f"  nothing due (median of {idle['runs']}) {idle['seconds'] * 1000:.1f} ms "
            f"(min {idle['min_seconds'] * 1000:.1f}, max {idle['max_seconds'] * 1000:.1f}); "
            f"raw SELECT {idle['baseline_seconds'] * 1000:.2f} ms",
            f"targets: sweep < {real['target_seconds']} s: {verdict(real)}; nothing due < "
            f"{idle['target_seconds'] * 1000:.0f} ms: {verdict(idle)}",
            *profiled_line,
        ]
    )


def run_from_command(command: BaseCommand, options: dict[str, Any]) -> None:
    """The ``bench`` command's ``sweep``: JSON lines out, a summary on stderr."""
    bench_options = SweepBenchOptions(
        customers=options["customers"],
        due_percent=options.get("due_percent") or SweepBenchOptions.due_percent,
        reps=options["reps"],
        force=options["force"],
        profile=bool(options.get("profile")),
    )
    report(command, lambda: run(bench_options), summary)
