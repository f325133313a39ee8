"""``generate_demo``: the organization, then customers in batches, each batch one transaction.

Determinism: one ``random.Random(seed)`` is drawn from in a fixed order (the roster first,
then customer after customer: profile, then story), and every time is an offset from
``now``; batch size and the generator process change nothing. Between two runs only
database ids, password salts and the pools' own created/updated stamps differ.
"""

from __future__ import annotations

import random
import sys
import time
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import NoReturn

from django.db import connection
from django.db.models import Q
from django.utils import timezone
from tqdm import tqdm

from highseas.accounts.models import Role, User
from highseas.customers.fts import fill_pinyin, search_index_suspended
from highseas.customers.models import Customer
from highseas.demo.clock import DemoClock
from highseas.demo.org import build_org
from highseas.demo.pipeline import BatchesFromProcess, GenerationPlan, generate_batches
from highseas.demo.reset import delete_demo_data, existing_demo_data
from highseas.demo.roster import TEAMS, RepSpec, plan_reps
from highseas.demo.tables import DemoTables, Tally
from highseas.demo.world import DemoWorld
from highseas.demo.writer import bulk_load_settings

LISTED_REPS = 30


class DemoError(Exception):
    """The demo cannot run; the message says what to do."""


@dataclass(frozen=True)
class DemoOptions:
    customers: int = 5_000
    seed: int = 2026
    months: int = 6
    now: datetime | None = None  # default: today's local midnight
    reset: bool = False
    progress: bool = False
    batch_size: int = 10_000  # customers per transaction; the data does not depend on it
    parallel: bool = True  # generate in a second process when there is more than one batch


@dataclass(frozen=True)
class Login:
    username: str
    display_name: str
    role: str
    team: str
    note: str = ""


SUSPEND_INDEXES_FROM = 50_000  # customers: below, the per-row triggers cost less than a rebuild
ANALYSIS_ROWS = 2_000  # rows SQLite's ANALYZE samples per index after a large load


class Laps:
    """Wall-clock phases of a build: each ``lap`` names the time since the previous one."""

    def __init__(self) -> None:
        self.started = self.last = time.perf_counter()
        self.phases: list[tuple[str, float]] = []

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.phases.append((name, now - self.last))
        self.last = now

    @property
    def seconds(self) -> float:
        return self.last - self.started


@dataclass
class DemoReport:
    now: datetime
    teams: int
    users: int
    pools: list[str]
    tally: Tally
    laps: Laps = field(default_factory=Laps)
    deleted_customers: int = 0
    logins: list[Login] = field(default_factory=list)
    more_reps: int = 0


def generate_demo(options: DemoOptions, laps: Laps | None = None) -> DemoReport:
    """Build the demo; ``laps`` (started by the caller, who may add phases after the build)
    gets each phase's wall-clock time."""
    laps = laps or Laps()
    admin = _require_initialized()
    deleted = _clear_earlier_demo(options.reset)
    laps.lap("earlier demo deleted")
    now = options.now or timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)
    clock = DemoClock.at(now)
    rng = random.Random(options.seed)
    reps = plan_reps(rng, options.customers)
    world = build_org(reps, clock, admin, options.months)
    laps.lap("organization")
    tally = _write_customers(rng, world, options, laps)
    report = DemoReport(
        now,
        teams=len(TEAMS) + len({(r.team_key, r.group) for r in reps if r.group}),
        users=len(TEAMS) + len(reps),
        pools=[team.pool_name for team in TEAMS],
        tally=tally,
        laps=laps,
        deleted_customers=deleted,
    )
    report.logins, report.more_reps = _logins(reps, clock), max(0, len(reps) - LISTED_REPS)
    return report


def _require_initialized() -> User:
    if Customer._meta.db_table not in connection.introspection.table_names():
        raise DemoError("the database has no schema yet: run `highseas init` first")
    admin = User.objects.filter(Q(role=Role.ADMIN) | Q(is_superuser=True)).order_by("id").first()
    if admin is None:
        raise DemoError(
            "no administrator yet: run `highseas init --admin-username … --admin-password …` first"
        )
    return admin


def _clear_earlier_demo(reset: bool) -> int:
    found = existing_demo_data()
    if not found:
        return 0
    if not reset:
        raise DemoError(
            f"demo data already exists ({', '.join(found)}); "
            "run `highseas demo --reset` to delete it and generate it again"
        )
    return delete_demo_data()


def _write_customers(
    rng: random.Random, world: DemoWorld, options: DemoOptions, laps: Laps
) -> Tally:
    """Generate and insert customers batch by batch; memory stays bounded by a few batches.
    A large load builds its tables' indexes once at the end instead of row by row (the
    search index: ``customers.fts.search_index_suspended``; the others on SQLite:
    ``DemoTables.indexes_suspended``), then computes the core names' pinyin."""
    tables = DemoTables()
    plan = GenerationPlan(rng, world, options.customers, options.batch_size, tables.next_ids())
    in_parallel = options.parallel and options.customers > options.batch_size
    source = BatchesFromProcess(plan) if in_parallel else nullcontext(generate_batches(plan))
    suspended = options.customers >= SUSPEND_INDEXES_FROM
    indexing = search_index_suspended(connection) if suspended else nullcontext()
    indexes = tables.indexes_suspended() if suspended else nullcontext()
    with bulk_load_settings(), indexing:
        with indexes:
            with source as batches, _progress_bar(options) as bar:
                for batch in batches:
                    tables.write(batch)
                    bar.update(batch.customer_count)
            laps.lap("customers generated and written")
        laps.lap("table indexes built")
    laps.lap("search index built")
    fill_pinyin(connection)
    tables.finish()
    laps.lap("pinyin")
    if suspended:
        _gather_statistics()
        laps.lap("statistics (ANALYZE)")
    return tables.tally


def _gather_statistics() -> None:
    """After a large load, the planner's statistics of the tables (SQLite has none until
    ``ANALYZE``, and then walks whole tables newest first where an index would read a few
    rows); sampled on SQLite so that it takes seconds, not minutes."""
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute(f"PRAGMA analysis_limit = {ANALYSIS_ROWS}")
        cursor.execute("ANALYZE")


def _progress_bar(options: DemoOptions) -> tqdm[NoReturn]:
    return tqdm(
        total=options.customers,
        unit="customers",
        file=sys.stderr,
        disable=not options.progress,
        desc="demo",
    )


def _logins(reps: list[RepSpec], clock: DemoClock) -> list[Login]:
    teams = {team.key: team for team in TEAMS}
    today = clock.local_date(clock.now)
    logins = [
        Login(team.manager_username, team.manager_name, "manager", team.name) for team in TEAMS
    ]
    for rep in reps[:LISTED_REPS]:
        note = ""
        if rep.left_days_ago is not None:
            left = today - timedelta(days=rep.left_days_ago)
            note = f"{left:%Y-%m-%d} 离职，账号已停用"
        elif rep.leave_days is not None:
            first, last = (today + timedelta(days=day) for day in rep.leave_days)
            note = f"休假 {first:%Y-%m-%d} 至 {last:%Y-%m-%d}"
        logins.append(Login(rep.username, rep.display_name, "rep", teams[rep.team_key].name, note))
    return logins
