"""``highseas bench assign`` (SPEC §12): a rule-assignment run over a backlog of pooled customers
(100,000 by default), 100 reps in 10 teams and 20 rules, beside the raw-SQL bulk update of the
same rows to the same owners.

1. Prepare the dataset: the pool ``bench-assign-pool`` with a holding cap, a team of 10 teams
   of reps with skills, 20 rules over province, industry, level and source covering every
   strategy and a user target, and the backlog (``dataset.insert_customers``).
2. Preview the run (``dry_run``) with the seed: the plan every other path follows.
3. Measure the raw-SQL baselines on the very rows and owners of that plan, each in batches of
   the run's size, one transaction per batch: ``raw_bulk_update`` (the compare-and-set UPDATE
   alone, grouped by owner) and ``raw_bulk_update_and_ledger`` (also the recycle schedule
   columns and the ``assigned`` ledger rows, written as the run writes them: ``COPY`` on
   PostgreSQL, one ``executemany`` on SQLite). Each undoes itself.
   Before each measured path the database is settled (``settle``): on PostgreSQL the tables
   the paths write are vacuumed and analyzed and a checkpoint is taken, so that no path pays
   for the dead rows, unset hint bits, pending GIN entries or the checkpoint an earlier one
   left (the first baseline had paid for the dataset's insert, and read slower than the
   second, which does more); on SQLite the WAL is checkpointed. On PostgreSQL each path also
   reports the WAL it wrote per customer.
4. Measure the real run through ``routing.services.run_assignment`` on the set-based path
   (``bulk``), then the per-customer path (the run applied one by one, ``service``: the rule's
   fast path, ``assign_statements.assign_by_rule``) on a sample, beside its own raw baseline
   (``raw_one_by_one``: the sample's compare-and-set and ledger row by plain SQL, one
   transaction per customer) and ``raw_one_by_one_in_batch`` (the same statements customer by
   customer in one transaction per batch of the run's size, as the run gives them, with the
   compare-and-set and the ledger row one statement on PostgreSQL: the floor the
   per-customer path is judged by), with the statements each run sent per customer; after
   each, put the customers back in the pool with ``released`` ledger rows (so the ledger
   still replays and the next run finds the same backlog) and drop the run's decision log.
"""

from __future__ import annotations

import gc
import os
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth.hashers import make_password
from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db import connection, transaction
from django.db.models import F
from django.test import override_settings
from django.utils import timezone

from highseas.accounts.models import RepLevel, RepProfile, Role, Team, User
from highseas.bench import BenchError, chunked, has_customers, report
from highseas.bench.breakdown import describe, profiled
from highseas.bench.dataset import INDUSTRIES, PROVINCES, insert_customers
from highseas.bench.timing import Claimer, wal_bytes_since, wal_position
from highseas.customers.choices import CustomerStatus
from highseas.customers.models import Customer
from highseas.engine.ownership import EventKind, OwnershipState, Status
from highseas.notify.models import Notification
from highseas.pools import services as pools
from highseas.pools.ledger import Entry, record_events
from highseas.pools.models import OwnershipEvent, Pool
from highseas.pools.rows import db_datetime, insert_rows
from highseas.routing.models import AssignmentDecision, AssignmentRule
from highseas.routing.runs import DEFAULT_BATCH, ApplyMode, RunResult
from highseas.routing.services import run_assignment

POOL_NAME = "bench-assign-pool"
BENCH_POOLS = ("bench-pool", POOL_NAME)
TEAM_NAME = "bench-assign"
MANAGER_USERNAME = "bench-assign-manager"
ADMIN_USERNAME = "bench-assign-admin"  # the pool's admin (rules act as themselves)
REP_PREFIX = "bench-assign-rep-"
TEAMS = 10
TARGET_PER_SECOND = 10_000
SERVICE_TARGET_PER_SECOND = 1_000  # the per-customer path (a run applied one by one)
MARK = "bench:baseline"
RECYCLE_POLICY: dict[str, Any] = {"idle_days": 15, "warn_days": 3}
STRATEGIES = ("round_robin", "weighted", "least_loaded", "capacity", "performance", "skill")


@dataclass(frozen=True)
class AssignBenchOptions:
    backlog: int = 100_000
    reps: int = 100
    rules: int = 20
    service_sample: int = 2_000
    batch_size: int = DEFAULT_BATCH
    seed: int = 1
    force: bool = False
    profile: bool = False  # one more real run under cProfile, for the breakdown
    # the real run again while reps claim at this rate, paced and not (``claimed_against``)
    claims_per_second: float = 0.0


@dataclass(frozen=True)
class Org:
    pool: Pool
    manager: User
    teams: list[Team]
    reps: list[User]


@dataclass(frozen=True)
class Timed:
    path: str
    rows: int
    seconds: float
    cpu_seconds: float  # this process's CPU time (the database server's is not in it)
    wal_bytes: int | None = None  # what the path wrote to PostgreSQL's WAL

    @property
    def per_second(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0

    def figure(self) -> dict[str, Any]:
        """Wall-clock and CPU: on a shared machine their ratio says how much of the wall
        time went to waiting for a core (or the database) rather than to this code."""
        return {
            "path": self.path,
            "customers": self.rows,
            "seconds": round(self.seconds, 3),
            "per_second": round(self.per_second, 1),
            "cpu_seconds": round(self.cpu_seconds, 3),
            "cpu_ms_per_customer": round(1000 * self.cpu_seconds / self.rows, 3)
            if self.rows
            else None,
            "wal_bytes_per_customer": round(self.wal_bytes / self.rows)
            if self.rows and self.wal_bytes is not None
            else None,
        }


# --- the dataset ---------------------------------------------------------------------------


def refuse_foreign_data() -> None:
    foreign = Customer.objects.exclude(pool__name__in=BENCH_POOLS)
    if has_customers() and foreign.exists():
        raise BenchError(
            "this database holds customers that are not bench data; the benchmark assigns a "
            "hundred thousand of them, so it runs only on an empty or bench database (use a "
            "scratch HIGHSEAS_DATA_DIR or DATABASE_URL, or pass --force)"
        )


def _user(username: str, display_name: str, role: str, team: Team) -> User:
    """A user with an unusable password (hashing one per rep would dominate the build)."""
    return User(
        username=username,
        display_name=display_name,
        role=role,
        team=team,
        password=make_password(None),
    )


@transaction.atomic
def ensure_org(reps: int) -> Org:
    manager = User.objects.filter(username=MANAGER_USERNAME).first()
    head = Team.objects.filter(name=TEAM_NAME, parent__isnull=True).first()
    if manager is None or head is None:
        head = Team(name=TEAM_NAME)
        head.save()
        manager = _user(MANAGER_USERNAME, "分配基准经理", Role.MANAGER, head)
        manager.save()
        RepProfile.objects.create(user=manager)
        head.manager = manager
        head.save()
    teams = list(Team.objects.filter(parent=head).order_by("pk"))
    for index in range(len(teams), TEAMS):
        team = Team(name=f"{TEAM_NAME}-team-{index + 1:02d}", parent=head, manager=manager)
        team.save()
        teams.append(team)
    admin = User.objects.filter(username=ADMIN_USERNAME).first()
    if admin is None:
        admin = _user(ADMIN_USERNAME, "分配基准管理员", Role.ADMIN, head)
        admin.save()
    pool = Pool.objects.filter(name=POOL_NAME).first() or pools.save_pool(
        Pool(name=POOL_NAME, description="Dataset of `highseas bench assign`."),
        claim_policy={"holding_cap": 5_000},
        recycle_policy=RECYCLE_POLICY,
        member_teams=[head],
        admins=[admin],
    )
    return Org(pool, manager, teams, _ensure_reps(teams, reps))


def _ensure_reps(teams: list[Team], count: int) -> list[User]:
    names = [f"{REP_PREFIX}{index:03d}" for index in range(1, count + 1)]
    present = set(User.objects.filter(username__in=names).values_list("username", flat=True))
    missing = [(i, name) for i, name in enumerate(names) if name not in present]
    User.objects.bulk_create(
        [
            _user(name, f"分配销售{name[-3:]}", Role.REP, teams[i % len(teams)])
            for i, name in missing
        ]
    )
    created = User.objects.filter(username__in=[name for _, name in missing]).order_by("pk")
    RepProfile.objects.bulk_create(
        [
            RepProfile(
                user=user,
                level=RepLevel.SENIOR if i % 3 == 0 else RepLevel.JUNIOR,
                skills={
                    "industries": [INDUSTRIES[i % len(INDUSTRIES)]],
                    "regions": [PROVINCES[i % len(PROVINCES)]],
                },
            )
            for i, user in enumerate(created)
        ]
    )
    return list(User.objects.filter(username__in=names).order_by("pk"))


def _rule_specs(org: Org, count: int) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """``count`` rules: one per province and level group (C, or A and B) first, every fifth
    narrowed to three industries, so its other customers fall through to later rules; the
    strategies in turn, a user target among them; rules past the sixteenth combinations are
    shadowed by earlier ones (they cost a test and never match); a catch-all last."""
    provinces = sorted(set(PROVINCES))
    for index in range(count - 1):
        levels = ["C"] if index // len(provinces) % 2 == 0 else ["A", "B"]
        tests: list[dict[str, Any]] = [
            {"field": "province", "op": "eq", "value": provinces[index % len(provinces)]},
            {"field": "level", "op": "in", "value": levels},
        ]
        if index % 5 == 4:
            tests.append({"field": "industry", "op": "in", "value": list(INDUSTRIES[:3])})
        team = org.teams[index % len(org.teams)]
        members = [rep for rep in org.reps if rep.team_id == team.pk]
        target: dict[str, Any] = {"team": team.pk, "strategy": STRATEGIES[index % len(STRATEGIES)]}
        if target["strategy"] == "capacity":
            target["daily_quota"] = 1_000_000
        if target["strategy"] == "weighted" and members:
            target["weights"] = {str(members[0].pk): 2}
        if index == 9 and members:
            target = {"user": members[0].pk}
        yield {"all": tests}, target
    yield {}, {"team": org.teams[-1].pk, "strategy": "least_loaded"}


@transaction.atomic
def ensure_rules(org: Org, count: int) -> None:
    AssignmentRule.objects.filter(pool=org.pool).delete()
    AssignmentRule.objects.bulk_create(
        [
            AssignmentRule(
                name=f"基准规则{position:02d}",
                position=position,
                pool=org.pool,
                conditions=conditions,
                target=target,
                created_by=org.manager,
            )
            for position, (conditions, target) in enumerate(_rule_specs(org, count), start=1)
        ]
    )


def prepare(options: AssignBenchOptions) -> tuple[Org, int, float]:
    """The organization, the rules, and the backlog topped up to ``options.backlog``."""
    if not options.force:
        refuse_foreign_data()
    call_command("migrate", interactive=False, verbosity=0)
    org = ensure_org(options.reps)
    ensure_rules(org, options.rules)
    existing = Customer.objects.filter(pool=org.pool).count()
    if existing > options.backlog:
        raise BenchError(
            f"the assign bench here has {existing} customers, more than the {options.backlog} "
            "asked for; ask for that many, or use an empty database"
        )
    started = time.perf_counter()
    insert_customers(org.pool, org.manager, options.backlog - existing)
    return org, options.backlog - existing, time.perf_counter() - started


# --- putting customers back ----------------------------------------------------------------


def release_all(pool: Pool, now: datetime) -> int:
    """Every owned customer of the pool back in it, with a ``released`` ledger row each."""
    owned = list(
        Customer.objects.filter(pool=pool, status=CustomerStatus.OWNED)
        .order_by("pk")
        .values_list("pk", "owner_id")
    )
    for chunk in chunked(owned, 5_000):
        with transaction.atomic():
            ids = [pk for pk, _ in chunk]
            for part in chunked(ids, 500):
                Customer.objects.filter(pk__in=part, status=CustomerStatus.OWNED).update(
                    status=CustomerStatus.POOLED,
                    previous_owner_id=F("owner_id"),
                    owner=None,
                    owned_since=None,
                    recycle_due_at=None,
                    warn_at=None,
                )
            record_events(
                [
                    Entry(
                        pk,
                        EventKind.RELEASED,
                        OwnershipState(Status.OWNED, owner_id, pool.pk),
                        OwnershipState(Status.POOLED, None, pool.pk),
                        "Returned to the pool by highseas bench assign",
                        actor_label="system:bench",
                    )
                    for pk, owner_id in chunk
                ],
                at=now,
            )
    return len(owned)


def drop_decisions(result: RunResult) -> None:
    AssignmentDecision.objects.filter(run=result.run).delete()


# --- the raw-SQL baselines -----------------------------------------------------------------


def _quoted(model: type[Customer] | type[OwnershipEvent], *names: str) -> list[str]:
    columns = {field.name: field.column for field in model._meta.concrete_fields}
    return [connection.ops.quote_name(columns[name]) for name in names]


class RawBaseline:
    """The plan's rows written with plain SQL, batch by batch, and undone afterwards."""

    def __init__(self, pool: Pool, plan: list[tuple[int, int]], batch_size: int) -> None:
        self.pool, self.plan, self.batch_size = pool, plan, batch_size
        self.table = connection.ops.quote_name(Customer._meta.db_table)
        self.ledger = connection.ops.quote_name(OwnershipEvent._meta.db_table)
        self.status, self.owner, self.since, self.due, self.warn, self.pk, self.pool_col = _quoted(
            Customer, "status", "owner", "owned_since", "recycle_due_at", "warn_at", "id", "pool"
        )

    def _update(
        self, cursor: Any, owner: int, ids: list[int], extra: str, params: list[Any]
    ) -> None:
        marks = ", ".join(["%s"] * len(ids))
        cursor.execute(
            f"UPDATE {self.table} SET {self.status} = %s, {self.owner} = %s, {self.since} = %s"
            f"{extra} WHERE {self.pk} IN ({marks}) AND {self.status} = %s "
            f"AND {self.owner} IS NULL AND {self.pool_col} = %s",
            [
                CustomerStatus.OWNED.value,
                owner,
                *params,
                *ids,
                CustomerStatus.POOLED.value,
                self.pool.pk,
            ],
        )
        if cursor.rowcount != len(ids):
            raise BenchError(f"the raw baseline changed {cursor.rowcount} of {len(ids)} rows")

    LEDGER = (
        *("customer", "kind", "from_status", "from_pool", "to_status", "to_owner", "to_pool"),
        *("actor_label", "reason", "policy_ref", "at"),
    )

    def _ledger_row(self, customer_id: int, owner_id: int, at: Any) -> tuple[Any, ...]:
        """One ``assigned`` ledger row (``LEDGER``'s fields), marked as the baseline's."""
        pooled, owned, pool = CustomerStatus.POOLED.value, CustomerStatus.OWNED.value, self.pool.pk
        return (
            *(customer_id, EventKind.ASSIGNED.value, pooled, pool, owned, owner_id, pool),
            *("system:bench", "Assigned (raw baseline)", MARK, at),
        )

    def run(self, *, with_ledger: bool, name: str = "") -> Timed:
        now, due, warn = _schedule()
        extra = f", {self.due} = %s, {self.warn} = %s" if with_ledger else ""
        params = [now, due, warn] if with_ledger else [now]
        at = db_datetime(now)

        def write(cursor: Any, batch: Sequence[tuple[int, int]]) -> None:
            by_owner: dict[int, list[int]] = defaultdict(list)
            for customer_id, owner_id in batch:
                by_owner[owner_id].append(customer_id)
            for owner_id, ids in by_owner.items():
                for part in chunked(ids, 500):
                    self._update(cursor, owner_id, list(part), extra, params)
            if with_ledger:  # as the run writes its ledger rows (``COPY`` on PostgreSQL)
                rows = [self._ledger_row(c, o, at) for c, o in batch]
                insert_rows(OwnershipEvent, self.LEDGER, rows)

        name = name or ("raw_bulk_update_and_ledger" if with_ledger else "raw_bulk_update")
        return self._timed(name, write)

    def _timed(self, name: str, write: Callable[[Any, Sequence[tuple[int, int]]], None]) -> Timed:
        """``write(cursor, batch)`` for each batch of the plan in a transaction of its own, on a
        settled database, timed (wall clock, CPU, WAL); then the plan undone."""
        settle()
        wal = wal_position()
        started, cpu = time.perf_counter(), time.process_time()
        for batch in chunked(self.plan, self.batch_size):
            with transaction.atomic(), connection.cursor() as cursor:
                write(cursor, batch)
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
        wrote = wal_bytes_since(wal)
        self.undo()
        return Timed(name, len(self.plan), seconds, cpu, wrote)

    def one_by_one(self, *, name: str) -> Timed:
        """Customer by customer in one transaction per batch, as the run's small path gives
        them: the compare-and-set with the schedule and the ``assigned`` ledger row, one
        statement on PostgreSQL (``WITH moved AS (UPDATE …) INSERT … SELECT … FROM moved``),
        two elsewhere; the floor of a path that must read, decide and write each customer."""
        now, due, warn = _schedule()
        ledger_table, quoted = self.ledger, _quoted(OwnershipEvent, *self.LEDGER)
        marks = ", ".join(["%s"] * len(quoted))
        update = (
            f"UPDATE {self.table} SET {self.status} = %s, {self.owner} = %s, {self.since} = %s, "
            f"{self.due} = %s, {self.warn} = %s WHERE {self.pk} = %s AND {self.status} = %s "
            f"AND {self.owner} IS NULL AND {self.pool_col} = %s"
        )
        insert = f"INSERT INTO {ledger_table} ({', '.join(quoted)}) "
        combined = connection.vendor == "postgresql"
        if combined:
            update, insert = (
                f"WITH moved AS ({update} RETURNING {self.pk}) {insert}SELECT {marks} FROM moved",
                "",
            )
        else:
            insert += f"VALUES ({marks})"
        at = db_datetime(now)

        def write(cursor: Any, batch: Sequence[tuple[int, int]]) -> None:
            for customer_id, owner_id in batch:
                moved: list[Any] = [
                    CustomerStatus.OWNED.value,
                    owner_id,
                    now,
                    due,
                    warn,
                    customer_id,
                ]
                moved += [CustomerStatus.POOLED.value, self.pool.pk]
                entry = list(self._ledger_row(customer_id, owner_id, at))
                cursor.execute(update, moved + entry if combined else moved)
                if cursor.rowcount != 1:
                    raise BenchError(f"the raw baseline missed customer {customer_id}")
                if not combined:
                    cursor.execute(insert, entry)

        return self._timed(name, write)

    def undo(self) -> None:
        """The baseline's rows back in the pool, its ledger rows (marked) removed: raw, since
        the ledger model refuses deletes and these rows are scaffolding, not history."""
        ids = [customer_id for customer_id, _ in self.plan]
        for part in chunked(ids, 500):
            Customer.objects.filter(pk__in=part, status=CustomerStatus.OWNED).update(
                status=CustomerStatus.POOLED,
                owner=None,
                owned_since=None,
                recycle_due_at=None,
                warn_at=None,
            )
        (policy_ref,) = _quoted(OwnershipEvent, "policy_ref")
        with connection.cursor() as cursor:
            cursor.execute(f"DELETE FROM {self.ledger} WHERE {policy_ref} = %s", [MARK])


# --- measuring -----------------------------------------------------------------------------

SETTLED = (Customer, OwnershipEvent, AssignmentDecision, Notification)


def _schedule() -> tuple[datetime, datetime, datetime]:
    """Now, and the recycle due and warning times of a customer owned from now under the
    bench's policy (what the raw baselines write beside the owner)."""
    now = timezone.now()
    due = now + timedelta(days=RECYCLE_POLICY["idle_days"])
    return now, due, due - timedelta(days=RECYCLE_POLICY["warn_days"])


def settle() -> None:
    """Start a measured path from the same state as the others. On PostgreSQL: vacuum and
    analyze the tables the paths write (the earlier paths' dead rows gone, hint bits and the
    visibility map set, GIN pending lists merged, as autovacuum would do at some moment
    inside a later path) and take a checkpoint (so none falls inside the path). On SQLite:
    checkpoint the WAL into the database file."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            for model in SETTLED:
                table = connection.ops.quote_name(model._meta.db_table)
                cursor.execute(f"VACUUM (ANALYZE) {table}")
            cursor.execute("CHECKPOINT")
        elif connection.vendor == "sqlite":
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def _timed_run(
    org: Org, options: AssignBenchOptions, **kwargs: Any
) -> tuple[RunResult, float, float, int, float, int | None]:
    """The run, its wall-clock seconds, this process's CPU seconds, the statements it sent
    to the database (counted by a wrapper, not logged), and the seconds of the full
    collection it held off (``runs.full_collections_held``), made once it is done with its
    result still alive, and the WAL it wrote (PostgreSQL). The heap and the database are
    settled before the clocks start, so that no earlier path's garbage is collected, nor its
    dead rows vacuumed, in this one's time."""
    sent = 0

    def count(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        nonlocal sent
        sent += 1
        return execute(sql, params, many, context)

    settle()
    wal = wal_position()
    gc.collect()
    started, cpu = time.perf_counter(), time.process_time()
    with connection.execute_wrapper(count):
        result = run_assignment(
            org.manager, pool=org.pool, seed=options.seed, batch_size=options.batch_size, **kwargs
        )
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    wrote = wal_bytes_since(wal)
    collecting = time.perf_counter()
    gc.collect()
    return result, seconds, cpu, sent, time.perf_counter() - collecting, wrote


def claimed_against(org: Org, options: AssignBenchOptions, *, paced: bool) -> dict[str, Any]:
    """The real run (set-based) while reps claim at ``options.claims_per_second``: with its
    batches paced by whether a claim waited (``config.pacing``), or all of the run's size.
    Claims then run against the backlog left pooled."""
    release_all(org.pool, timezone.now())
    settle()
    claimer = Claimer(org.pool, org.reps, options.claims_per_second)
    with override_settings(PACED_BATCHES=paced), claimer as c:
        started = time.perf_counter()
        result = run_assignment(
            org.manager,
            pool=org.pool,
            dry_run=False,
            seed=options.seed,
            batch_size=options.batch_size,
            apply_mode=ApplyMode.BULK,
        )
        seconds = time.perf_counter() - started
    drop_decisions(result)
    release_all(org.pool, timezone.now())
    considered = result.run.considered
    return {
        "path": "run_claimed_against" if paced else "run_claimed_against_unpaced",
        "customers": considered,
        "seconds": round(seconds, 3),
        "per_second": round(considered / seconds, 1) if seconds else 0.0,
        "batches": result.run.batches,
        "claims_per_second_asked": options.claims_per_second,
        **c.figure(),
    }


def measure(org: Org, options: AssignBenchOptions) -> dict[str, Any]:
    release_all(org.pool, timezone.now())
    preview, *preview_seconds = _timed_run(org, options, dry_run=True)
    plan = [(d.customer_id, d.owner_id) for d in preview.assigned if d.owner_id is not None]
    baseline = RawBaseline(org.pool, plan, options.batch_size)
    raw = baseline.run(with_ledger=False)
    raw_ledger = baseline.run(with_ledger=True)
    real, *real_seconds = _timed_run(org, options, dry_run=False, apply_mode=ApplyMode.BULK)
    matches = [(d.customer_id, d.owner_id) for d in real.decisions] == [
        (d.customer_id, d.owner_id) for d in preview.decisions
    ]
    drop_decisions(real)
    release_all(org.pool, timezone.now())
    sample = [d.customer_id for d in preview.decisions[: options.service_sample]]
    in_sample = set(sample)
    sampled = [p for p in plan if p[0] in in_sample]
    raw_one = RawBaseline(org.pool, sampled, 1).run(with_ledger=True, name="raw_one_by_one")
    raw_in_batch = RawBaseline(org.pool, sampled, options.batch_size).one_by_one(
        name="raw_one_by_one_in_batch"
    )
    service, *service_seconds = _timed_run(
        org, options, dry_run=False, customer_ids=sample, apply_mode=ApplyMode.SERVICE
    )
    drop_decisions(service)
    release_all(org.pool, timezone.now())
    breakdown = None
    if options.profile:
        profiled_run, breakdown = profiled(
            lambda: _timed_run(org, options, dry_run=False, apply_mode=ApplyMode.BULK)[0]
        )
        drop_decisions(profiled_run)
        release_all(org.pool, timezone.now())
    claimed = []
    if options.claims_per_second > 0:
        claimed = [claimed_against(org, options, paced=paced) for paced in (False, True)]
    return {
        "claimed": claimed,
        "breakdown": breakdown,
        "preview": (preview, *preview_seconds),
        "run_bulk": (real, *real_seconds),
        "run_service": (service, *service_seconds),
        "raw": raw,
        "raw_ledger": raw_ledger,
        "raw_one_by_one": raw_one,
        "raw_one_by_one_in_batch": raw_in_batch,
        "preview_matches_real": matches,
    }


def _run_figure(
    path: str,
    result: RunResult,
    seconds: float,
    cpu: float,
    sent: int,
    collection: float,
    wal: int | None,
) -> dict[str, Any]:
    run = result.run
    return {
        **Timed(path, run.considered, seconds, cpu, wal).figure(),
        "held_off_collection_seconds": round(collection, 3),
        "statements_per_customer": round(sent / run.considered, 2) if run.considered else None,
        "statements_per_batch": round(sent / run.batches, 1) if run.batches else None,
        "assigned": run.assigned,
        "unassigned": run.unassigned,
        "unassigned_reasons": run.unassigned_reasons,
        "batches": run.batches,
        "apply_mode": run.apply_mode,
    }


def figures(
    options: AssignBenchOptions, built: tuple[int, float], measured: dict[str, Any]
) -> list[dict[str, Any]]:
    common = {
        "bench": "assign",
        "db": connection.vendor,
        "backlog": options.backlog,
        "reps": options.reps,
        "rules": options.rules,
        "seed": options.seed,
        "load_average": [round(value, 2) for value in os.getloadavg()],
    }
    inserted, build_seconds = built
    raw: Timed = measured["raw"]
    real = _run_figure("run_bulk", *measured["run_bulk"])
    service = _run_figure("run_service", *measured["run_service"])
    raw_one: Timed = measured["raw_one_by_one_in_batch"]  # the same transactions as the run's
    judged = {
        "baseline": raw.path,
        "baseline_per_second": round(raw.per_second, 1),
        "ratio": round(raw.per_second / real["per_second"], 2) if real["per_second"] else None,
        "target_per_second": TARGET_PER_SECOND,
        "meets_target": real["per_second"] >= TARGET_PER_SECOND,
        "preview_matches_real": measured["preview_matches_real"],
    }
    breakdown = measured["breakdown"]
    profile = [{**common, "path": "run_profile", **breakdown}] if breakdown else []
    return [
        *profile,
        {
            **common,
            "path": "dataset",
            "inserted": inserted,
            "build_seconds": round(build_seconds, 2),
        },
        {**common, **real, **judged},
        {
            **common,
            **service,
            "baseline": raw_one.path,
            "baseline_per_second": round(raw_one.per_second, 1),
            "ratio": round(raw_one.per_second / service["per_second"], 2)
            if service["per_second"] and raw_one.per_second
            else None,
            "target_per_second": SERVICE_TARGET_PER_SECOND,
            "meets_target": service["per_second"] >= SERVICE_TARGET_PER_SECOND,
        },
        {**common, **_run_figure("preview", *measured["preview"])},
        {**common, **raw.figure()},
        {**common, **measured["raw_ledger"].figure()},
        {**common, **measured["raw_one_by_one"].figure()},
        {**common, **raw_one.figure()},
        *({**common, **line} for line in measured["claimed"]),
    ]


def run(options: AssignBenchOptions) -> list[dict[str, Any]]:
    org, inserted, build_seconds = prepare(options)
    return figures(options, (inserted, build_seconds), measure(org, options))


def summary(lines: list[dict[str, Any]]) -> str:
    by_path = {line["path"]: line for line in lines}
    dataset, real = by_path["dataset"], by_path["run_bulk"]
    built = (
        f"built {dataset['inserted']:,} customers in {dataset['build_seconds']:.1f} s"
        if dataset["inserted"]
        else "reused the dataset"
    )
    text = [
        f"assign bench on {real['db']}: backlog {real['backlog']:,} ({built}), "
        f"{real['reps']} reps, {real['rules']} rules; load average "
        + ", ".join(f"{value:.2f}" for value in real["load_average"]),
    ]
    for path in (
        "run_bulk",
        "run_service",
        "preview",
        "raw_bulk_update",
        "raw_bulk_update_and_ledger",
        "raw_one_by_one",
        "raw_one_by_one_in_batch",
    ):
        line = by_path[path]
        if not line["customers"]:  # a backlog too small to leave this path any customer
            text.append(f"  {path:<28} no customer left to time (ask for a larger --backlog)")
            continue
        statements = line.get("statements_per_customer")
        per_batch = line.get("statements_per_batch")
        text.append(
            f"  {path:<28} {line['per_second']:>10,.0f} customers/s   "
            f"{line['customers']:>7,} in {line['seconds']:.2f} s   "
            f"CPU {line['cpu_ms_per_customer']:.3f} ms/customer"
            + (
                f"   WAL {line['wal_bytes_per_customer']:,} B/customer"
                if line.get("wal_bytes_per_customer") is not None
                else ""
            )
            + (f"   {statements} statements/customer" if statements is not None else "")
            + (f" ({per_batch} a batch)" if per_batch else "")
            + (
                f"; then one full collection {line['held_off_collection_seconds']:.2f} s"
                if "held_off_collection_seconds" in line
                else ""
            )
        )
    verdict = "met" if real["meets_target"] else "missed"
    text.append(
        f"real run (set-based) is {real['ratio']}× slower than the raw bulk UPDATE; "
        f"target ≥ {real['target_per_second']:,} customers/s: {verdict}; "
        f"preview {'matches' if real['preview_matches_real'] else 'DIFFERS FROM'} the real run"
    )
    service = by_path["run_service"]
    compared = (
        f"{service['ratio']}× slower than the raw one-by-one statements in the run's transactions"
        if service["ratio"] is not None
        else "not compared (no customer left for the raw one-by-one statements)"
    )
    text.append(
        f"one-by-one run is {compared}; "
        f"target ≥ {SERVICE_TARGET_PER_SECOND:,} customers/s: "
        f"{'met' if service['meets_target'] else 'missed'}"
    )
    for path in ("run_claimed_against_unpaced", "run_claimed_against"):
        if claimed := by_path.get(path):
            text.append(
                f"  {path:<28} {claimed['per_second']:>10,.0f} customers/s   "
                f"{claimed['batches']} batches; {claimed['claims']} claims meanwhile "
                f"({claimed['claims_per_second_asked']:g}/s asked): "
                f"p50 {claimed['claim_p50_ms']} ms, p95 {claimed['claim_p95_ms']} ms, "
                f"p99 {claimed['claim_p99_ms']} ms, max {claimed['claim_max_ms']} ms; "
                f"{claimed['claim_outcomes']}"
            )
    if profile := by_path.get("run_profile"):
        text.append(
            f"  profiled run {profile['profiled_seconds']:.2f} s, self time: {describe(profile)}"
        )
    return "\n".join(text)


def run_from_command(command: BaseCommand, options: dict[str, Any]) -> None:
    """The ``bench`` command's ``assign``: JSON lines out, a summary on stderr."""
    defaults = AssignBenchOptions()
    bench_options = AssignBenchOptions(
        backlog=options.get("backlog") or defaults.backlog,
        reps=options["reps"],
        rules=options.get("rules") or defaults.rules,
        service_sample=options.get("service_sample") or defaults.service_sample,
        seed=options["seed"],
        force=options["force"],
        profile=bool(options.get("profile")),
        claims_per_second=options.get("claims_per_second") or 0.0,
    )
    report(command, lambda: run(bench_options), summary)
