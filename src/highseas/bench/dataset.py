"""The claim benchmark's dataset: one team, N reps, one pool and its pooled customers.

The pool named ``bench-pool`` marks a database as a bench database; the number of customers in
it is the dataset's size. Building is resumable: customers are appended in batches, each batch
committed with the ``created`` ledger rows of its customers, so that the ledger replays to every
customer's state (``highseas check`` passes) whenever the build stops.

Phones and e-mails are encrypted as each row is made (``RowTemplate``), like every writer's.
The duplicate-key columns are left empty: the claim path never reads them, and computing the
core company name costs about half a millisecond a row; the duplicate-key backfill fills
them (blind indexes and core names) when a benchmark needs them.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.contrib.auth.hashers import make_password
from django.core.management import call_command
from django.core.management.color import no_style
from django.db import connection, transaction
from django.db.models import Max, Model
from tqdm import tqdm

from highseas.accounts import services as accounts
from highseas.accounts.models import RepProfile, Role, Team, User
from highseas.bench import BenchError, has_customers
from highseas.customers.choices import CustomerLevel, CustomerStatus, Source
from highseas.customers.models import Customer
from highseas.engine.ownership import EventKind
from highseas.pools import services as pools
from highseas.pools.models import OwnershipEvent, Pool
from highseas.pools.rows import insert_values

POOL_NAME = "bench-pool"
TEAM_NAME = "bench-team"
MANAGER_USERNAME = "bench-manager"
REP_PREFIX = "bench-rep-"
BATCH = 10_000

# Generous limits, so that no measured claim is refused, but every rule is still evaluated.
CLAIM_POLICY: dict[str, Any] = {
    "daily_quota": 100_000,
    "weekly_quota": None,
    "holding_cap": None,
    "reclaim_cooldown_days": 7,
}
RECYCLE_POLICY: dict[str, Any] = {"idle_days": 15, "warn_days": 3}

CITIES = ("上海", "杭州", "苏州", "南京", "深圳", "广州", "成都", "武汉", "西安", "青岛")
PROVINCES = ("上海", "浙江", "江苏", "江苏", "广东", "广东", "四川", "湖北", "陕西", "山东")
# Brand names are three of these characters, read off the id's digits in base len(SYLLABLES):
# a different brand for each of the first million customers.
SYLLABLES = tuple(
    dict.fromkeys(
        "华信东方金桥瑞丰宏达恒通新源博远天成中科安泰永盛鼎立汇丰嘉禾润泽明德光耀鸿运祥和"
        "融创卓越联合兴业百川万象正大凯旋启航星辰蓝海智云精工振华长江黄河泰山昆仑锦绣翔宇"
        "晨曦朗月春秋松柏梅兰竹菊福禄寿喜康宁宝龙凤麒麟川岳峰盈利通航"
    )
)
TRADES = ("科技", "贸易", "制造", "物流", "医疗器械", "软件", "建材", "食品", "电子", "咨询")
INDUSTRIES = ("manufacturing", "software", "retail", "logistics", "healthcare", "education")
LEVELS = (CustomerLevel.C, CustomerLevel.C, CustomerLevel.B, CustomerLevel.A)
SOURCES = (Source.WEB_FORM, Source.REFERRAL, Source.EXHIBITION, Source.COLD_CALL, Source.IMPORT)
# Creation times follow the ids, half a minute apart (a million customers over a year), so
# that the time index grows at its end, as it does in a live database.
FIRST_CREATED_AT = datetime(2024, 1, 1, tzinfo=UTC)
CREATION_STEP = timedelta(seconds=30)


@dataclass(frozen=True)
class Dataset:
    pool: Pool
    manager: User
    reps: list[User]
    customers: int
    inserted: int
    build_seconds: float


def prepare(*, customers: int, reps: int, force: bool) -> Dataset:
    """Check the database is empty or a bench database (unless ``force``), migrate it, and
    top the dataset up to ``customers`` pooled customers and ``reps`` reps."""
    if not force:
        refuse_foreign_data()
    call_command("migrate", interactive=False, verbosity=0)
    pool, manager = ensure_organization(Pool.objects.filter(name=POOL_NAME).first())
    rep_users = ensure_reps(manager, reps)
    existing = Customer.objects.filter(pool=pool).count()
    if existing > customers:
        raise BenchError(
            f"the bench dataset here has {existing} customers, more than the {customers} asked "
            "for; ask for that many, or point HIGHSEAS_DATA_DIR / DATABASE_URL at an empty database"
        )
    started = time.perf_counter()
    insert_customers(pool, manager, customers - existing)
    elapsed = time.perf_counter() - started
    settle_tables()
    return Dataset(pool, manager, rep_users, customers, customers - existing, elapsed)


def settle_tables() -> None:
    """On PostgreSQL, vacuum and analyze what the build wrote, now rather than when
    autovacuum notices it in the middle of a measured path (a 200,000-row build made the
    first 2,000 claims, raw baseline and service alike, stall for 50 ms at p99)."""
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        return  # VACUUM cannot run inside a transaction
    with connection.cursor() as cursor:
        for model in (Customer, OwnershipEvent):
            cursor.execute(f"VACUUM ANALYZE {connection.ops.quote_name(model._meta.db_table)}")


def refuse_foreign_data() -> None:
    """Refuse, before touching anything (even the schema), a database with customers outside
    the bench pool. Reads only ids, so that an older schema can be checked too."""
    if not has_customers():
        return
    pool_id = Pool.objects.filter(name=POOL_NAME).values_list("pk", flat=True).first()
    customers = Customer.objects.all()
    foreign = customers if pool_id is None else customers.exclude(pool_id=pool_id)
    if foreign.exists():
        raise BenchError(
            "this database holds customers that are not bench data; the benchmark writes a "
            "million rows and claims some of them, so it runs only on an empty or bench "
            "database (use a scratch HIGHSEAS_DATA_DIR or DATABASE_URL, or pass --force)"
        )


def _fast_user(username: str, display_name: str, role: str, team: Team | None) -> User:
    """A user with an unusable password: hashing a password per rep would dominate the build."""
    return User(
        username=username,
        display_name=display_name,
        role=role,
        team=team,
        password=make_password(None),
    )


@transaction.atomic
def ensure_organization(pool: Pool | None) -> tuple[Pool, User]:
    manager = User.objects.filter(username=MANAGER_USERNAME).first()
    if manager is None:
        manager = _fast_user(MANAGER_USERNAME, "基准经理", Role.MANAGER, None)
        manager.save()
        RepProfile.objects.create(user=manager)
    team = Team.objects.filter(name=TEAM_NAME, manager=manager).first()
    if team is None:
        team = accounts.create_team(name=TEAM_NAME, manager=manager)
        User.objects.filter(pk=manager.pk).update(team=team)
        manager.team = team
    if pool is None:
        pool = pools.save_pool(
            Pool(name=POOL_NAME, description="Dataset of `highseas bench claim`."),
            claim_policy=CLAIM_POLICY,
            recycle_policy=RECYCLE_POLICY,
            member_teams=[team],
        )
    return pool, manager


@transaction.atomic
def ensure_reps(manager: User, count: int) -> list[User]:
    """Reps ``bench-rep-0001`` … with their profiles, created in bulk when missing."""
    names = [f"{REP_PREFIX}{index:04d}" for index in range(1, count + 1)]
    present = set(User.objects.filter(username__in=names).values_list("username", flat=True))
    missing = [name for name in names if name not in present]
    User.objects.bulk_create(
        [_fast_user(name, f"基准销售{name[-4:]}", Role.REP, manager.team) for name in missing]
    )
    created = User.objects.filter(username__in=missing)
    RepProfile.objects.bulk_create([RepProfile(user=user) for user in created])
    return list(User.objects.filter(username__in=names).select_related("team").order_by("pk"))


def _insert_sql(model: type[Model], columns: list[str]) -> tuple[str, str, str]:
    """The head and a row's marks of the ``INSERT`` (``rows.insert_values``), and the
    ``COPY`` (PostgreSQL), of these columns."""
    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    names = ", ".join(quote(column) for column in columns)
    marks = ", ".join(["%s"] * len(columns))
    return (
        f"INSERT INTO {table} ({names}) VALUES ",
        f"({marks})",
        f"COPY {table} ({names}) FROM STDIN",
    )


class RowTemplate:
    """A model's row as DB-ready values: field defaults, with named fields set per row.
    Values of encrypted fields (phones, e-mails) are encrypted as the row is made."""

    def __init__(self, model: type[Model], constants: dict[str, Any], skip: tuple[str, ...]):
        fields = [f for f in model._meta.concrete_fields if f.name not in skip]
        self.columns = [f.column for f in fields]
        self.index = {f.name: position for position, f in enumerate(fields)}
        self.encrypted = {f.name: f for f in fields if getattr(f, "encrypted", False)}
        self.values = [
            f.get_db_prep_save(constants.get(f.name, f.get_default()), connection) for f in fields
        ]
        self.insert_head, self.row_marks, self.copy_sql = _insert_sql(model, self.columns)

    def row(self, **values: Any) -> list[Any]:
        row = list(self.values)
        for name, value in values.items():
            field = self.encrypted.get(name)
            row[self.index[name]] = (
                value if field is None else field.get_db_prep_save(value, connection)
            )
        return row


def _customer_template(pool: Pool, manager: User) -> RowTemplate:
    constants = {"status": CustomerStatus.POOLED.value, "pool": pool.pk, "created_by": manager.pk}
    return RowTemplate(Customer, constants, ())


def _ledger_template(pool: Pool, manager: User) -> RowTemplate:
    constants = {
        "kind": EventKind.CREATED.value,
        "to_status": CustomerStatus.POOLED.value,
        "to_pool": pool.pk,
        "actor": manager.pk,
        "actor_label": manager.username,
        "reason": "Created by highseas bench",
    }
    return RowTemplate(OwnershipEvent, constants, ("id",))


def _brand(customer_id: int) -> str:
    base = len(SYLLABLES)
    return "".join(SYLLABLES[customer_id // base**place % base] for place in range(3))


def _customer_rows(
    template: RowTemplate, first_id: int, count: int
) -> Iterator[tuple[list[Any], Any]]:
    """Customer rows with ids from ``first_id``, and each one's adapted creation time."""
    adapt = connection.ops.adapt_datetimefield_value
    for customer_id in range(first_id, first_id + count):
        city = customer_id % len(CITIES)
        created_at = adapt(FIRST_CREATED_AT + customer_id * CREATION_STEP)
        yield (
            template.row(
                id=customer_id,
                name=f"{CITIES[city]}{_brand(customer_id)}{TRADES[customer_id // 7 % 10]}有限公司",
                phone=f"13{customer_id:09d}",
                email=f"c{customer_id}@example.com",
                industry=INDUSTRIES[customer_id % len(INDUSTRIES)],
                province=PROVINCES[city],
                city=CITIES[city],
                level=LEVELS[customer_id % len(LEVELS)].value,
                source=SOURCES[customer_id % len(SOURCES)].value,
                created_at=created_at,
                updated_at=created_at,
            ),
            created_at,
        )


def insert_customers(pool: Pool, manager: User, count: int) -> None:
    """Append ``count`` pooled customers with their ``created`` ledger rows, in committed
    batches of raw multi-row INSERTs (``COPY`` on PostgreSQL), showing progress on stderr."""
    if count <= 0:
        return
    customers, ledger = _customer_template(pool, manager), _ledger_template(pool, manager)
    first_id = (Customer.objects.aggregate(top=Max("id"))["top"] or 0) + 1
    with tqdm(total=count, desc="bench dataset", unit=" customers", file=sys.stderr) as bar:
        try:
            for start in range(first_id, first_id + count, BATCH):
                size = min(BATCH, first_id + count - start)
                _insert_batch(customers, ledger, _customer_rows(customers, start, size))
                bar.update(size)
        finally:
            _reset_sequences()


@transaction.atomic
def _insert_batch(
    customers: RowTemplate, ledger: RowTemplate, rows: Iterator[tuple[list[Any], Any]]
) -> None:
    customer_rows, ledger_rows = [], []
    for row, created_at in rows:
        customer_rows.append(row)
        ledger_rows.append(ledger.row(customer=row[customers.index["id"]], at=created_at))
    _write(customers, customer_rows)
    _write(ledger, ledger_rows)


def _write(template: RowTemplate, rows: list[list[Any]]) -> None:
    """``COPY`` on PostgreSQL (several times faster there than ``executemany``),
    multi-row ``INSERT`` statements elsewhere (``rows.insert_values``: the customers' search
    index is kept by triggers)."""
    with connection.cursor() as cursor:
        if connection.vendor != "postgresql":
            insert_values(cursor, template.insert_head, template.row_marks, rows)
            return
        with cursor.cursor.copy(template.copy_sql) as copy:
            for row in rows:
                copy.write_row(row)


def _reset_sequences() -> None:
    """After explicit ids, move PostgreSQL's id sequence past them (a no-op on SQLite)."""
    statements = connection.ops.sequence_reset_sql(no_style(), [Customer])
    with connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)
