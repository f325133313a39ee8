"""``generate_demo``: the organization, then customers in batches, each batch one transaction.

Determinism: one ``random.Random(seed)`` is drawn from in a fixed order (the roster first,
then customer after customer: profile, then story), and every time is an offset from
``now``. Database ids and password salts are the only things that differ between two runs.
"""

from __future__ import annotations

import random
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone
from tqdm import tqdm

from highseas.accounts.models import Role, User
from highseas.customers.models import Customer
from highseas.demo.book import OwnershipBook
from highseas.demo.clock import DemoClock
from highseas.demo.identity import NumberPlan
from highseas.demo.org import build_org
from highseas.demo.profiles import ProfileFactory
from highseas.demo.reset import delete_demo_data, existing_demo_data
from highseas.demo.roster import TEAMS, RepSpec, plan_reps
from highseas.demo.rows import MODELS, DemoTables, Tally
from highseas.demo.story import StoryTeller
from highseas.demo.world import DemoWorld
from highseas.demo.writer import reset_sequences

BATCH_SIZE = 10_000
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


@dataclass(frozen=True)
class Login:
    username: str
    display_name: str
    role: str
    team: str
    note: str = ""


@dataclass
class DemoReport:
    now: datetime
    teams: int
    users: int
    pools: list[str]
    tally: Tally
    seconds: float = 0.0
    deleted_customers: int = 0
    logins: list[Login] = field(default_factory=list)
    more_reps: int = 0


def generate_demo(options: DemoOptions) -> DemoReport:
    started = time.perf_counter()
    admin = _require_initialized()
    deleted = _clear_earlier_demo(options.reset)
    now = options.now or timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)
    clock = DemoClock.at(now)
    rng = random.Random(options.seed)
    reps = plan_reps(rng, options.customers)
    world = build_org(reps, clock, admin, options.months)
    tally = _write_customers(rng, world, options)
    reset_sequences(MODELS)
    report = DemoReport(
        now,
        teams=len(TEAMS) + len({(r.team_key, r.group) for r in reps if r.group}),
        users=len(TEAMS) + len(reps),
        pools=[team.pool_name for team in TEAMS],
        tally=tally,
        deleted_customers=deleted,
    )
    report.logins, report.more_reps = _logins(reps, clock), max(0, len(reps) - LISTED_REPS)
    report.seconds = time.perf_counter() - started
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


def _write_customers(rng: random.Random, world: DemoWorld, options: DemoOptions) -> Tally:
    """Generate and insert customers batch by batch; memory stays bounded by the batch."""
    clock = world.clock
    profiles = ProfileFactory(rng, NumberPlan(), clock.local_date(clock.now).year)
    teller = StoryTeller(rng, world, OwnershipBook(clock, world.rep_count))
    tables = DemoTables()
    with tqdm(
        total=options.customers,
        unit="customers",
        file=sys.stderr,
        disable=not options.progress,
        desc="demo",
    ) as progress:
        for first in range(0, options.customers, BATCH_SIZE):
            size = min(BATCH_SIZE, options.customers - first)
            batch = tables.batch()
            for _ in range(size):
                profile = profiles.make()
                batch.add(profile, teller.tell(profile))
            with transaction.atomic():
                batch.write()
            progress.update(size)
    return tables.tally


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
