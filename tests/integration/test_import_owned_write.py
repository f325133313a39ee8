"""Routed import rows written once, already owned (``bulk_assign.Unwritten``): the same
customers, ledger, decisions, notifications and row plans as inserting them pooled and
updating them owned; one INSERT and no UPDATE per routed row; the compare-and-set kept for
every row that already exists."""

from __future__ import annotations

import contextlib
import functools
import random
import re
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from highseas.accounts.models import RepProfile
from highseas.accounts.visibility import Viewer
from highseas.customers.choices import CustomerStatus
from highseas.customers.models import Customer
from highseas.intake import importer as importer_module
from highseas.intake import imports
from highseas.intake.importer import Importer
from highseas.intake.imports import commit_import, preview_import
from highseas.intake.models import ImportJob
from highseas.notify.models import Notification
from highseas.pools.models import OwnershipEvent, Pool
from highseas.pools.services import save_pool
from highseas.routing import runs, services
from highseas.routing.models import AssignmentDecision, AssignmentRule
from tests.integration.import_kills import killed_then_resumed

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 6, 1, 2, 0, tzinfo=UTC)


def _file(count: int, taken: str = "") -> bytes:
    """``count`` customers, with duplicates inside the file (another spelling of an earlier
    row), bad rows, and ``taken`` (a phone already in the database) on one row."""
    lines = ["客户名称,电话,邮箱,省份"]
    for i in range(count):
        lines.append(f"远航{i}号科技有限公司,1380000{i:04d},b{i}@x.cn,浙江")
        if i % 17 == 5:
            lines.append(f"远航{i}号科技（北京）有限公司,+86 1380000{i:04d},,浙江省")
        if i % 41 == 7:
            lines.append(",13999999999,bad,浙江")
        if i == 11 and taken:
            lines.append(f"已有客户科技有限公司,{taken},,浙江")
    return ("\n".join(lines) + "\n").encode()


def _routing(org: dict[str, Any], *, daily_quota: int = 40, cap: int = 70) -> Pool:
    """A round-robin rule over the east team, whose caps and quotas bite."""
    pool: Pool = org["east_pool"]
    save_pool(pool, recycle_policy={"idle_days": 9, "warn_days": 2})
    pool.claim_policy.daily_quota = daily_quota
    pool.claim_policy.save()
    RepProfile.objects.filter(user=org["rep_b"]).update(holding_cap_override=cap)
    AssignmentRule.objects.create(
        name="全部", target={"team": org["east"].pk, "strategy": "round_robin"}, conditions={}
    )
    return pool


def _snapshot(job: ImportJob) -> dict[str, list[Any]]:
    """What the commit wrote, with every id named by the line that created its customer
    (the two paths' jobs, runs and sequences differ), the rows in id order."""
    line_of = dict(job.rows.exclude(customer=None).values_list("customer_id", "line"))
    run_numbers: dict[int, int] = {}

    def run(value: int | None) -> int | None:
        return None if value is None else run_numbers.setdefault(value, len(run_numbers))

    def same(value: Any) -> Any:
        if isinstance(value, dict) and "run" in value:
            return {**value, "run": run(value["run"])}
        if isinstance(value, str) and value.startswith("import:"):
            return "import:job"
        if isinstance(value, str):
            return re.sub(r"#(\d+)", lambda m: f"#run{run(int(m.group(1)))}", value)
        return value

    customers = sorted(
        (line_of[c["id"]], *(v for k, v in c.items() if k not in ("id", "updated_at")))
        for c in Customer.objects.filter(pk__in=line_of).values()
    )
    ledger = [
        (line_of[e.pop("customer_id")], *(same(v) for k, v in e.items() if k != "id"))
        for e in OwnershipEvent.objects.filter(customer_id__in=line_of).order_by("id").values()
    ]
    decisions = [
        (
            line_of[d.pop("customer_id")],
            run(d.pop("run_id")),
            *(v for k, v in d.items() if k != "id"),
        )
        for d in AssignmentDecision.objects.filter(customer_id__in=line_of).order_by("id").values()
    ]
    notes = [
        (n["recipient_id"], n["kind"], n["title"], n["body"], line_of.get(n["customer_id"]))
        for n in Notification.objects.order_by("id").values()
    ]
    plans = list(
        job.rows.order_by("line").values_list(
            "line", "action", "code", "detail", "duplicate_line", "holder", "owner", "routed"
        )
    )
    return {
        "customers": customers,
        "ledger": ledger,
        "decisions": decisions,
        "notes": notes,
        "plans": plans,
    }


def _same_seed(monkeypatch: Any) -> None:
    """The routing seed without the job's id, so that two jobs route alike."""
    real = importer_module.assign_new_customers

    def routed(*args: Any, seed: int, **kwargs: Any) -> Any:
        return real(*args, seed=seed % 1_000_003, **kwargs)

    monkeypatch.setattr(importer_module, "assign_new_customers", routed)


def _both_paths(
    org: dict[str, Any], monkeypatch: Any, content: bytes, pool: Pool, **options: Any
) -> list[tuple[dict[str, list[Any]], list[dict[str, Any]]]]:
    """The file committed by the old path (inserted pooled, updated owned), then by the new
    one, each rolled back after its snapshot and the statements it sent."""
    monkeypatch.setattr(timezone, "now", lambda: NOW)
    _same_seed(monkeypatch)
    real = Importer._routes_before_insert
    seen = []
    for new in (False, True):
        monkeypatch.setattr(
            Importer, "_routes_before_insert", real if new else lambda self, rows: False
        )
        point = transaction.savepoint()
        job = preview_import(
            Viewer(org["admin"]), file_name="f.csv", content=content, pool_id=pool.pk, **options
        )
        with CaptureQueriesContext(connection) as sent:
            job = commit_import(Viewer(org["admin"]), job.pk)
        assert job.status == "done", job.error
        seen.append((_snapshot(job), list(sent.captured_queries)))
        transaction.savepoint_rollback(point)
    return seen


def _updates_of_customers(sent: list[dict[str, Any]]) -> int:
    return sum(q["sql"].startswith('UPDATE "customers_customer" ') for q in sent)


@pytest.mark.parametrize(
    ("batch", "quota", "cap"), [(60, 40, 70), (500, 40, 70), (2000, 1000, 1000), (97, 3, 5)]
)
def test_the_owned_write_equals_inserting_pooled_then_updating(
    org: dict[str, Any], make_customer: Any, monkeypatch: Any, batch: int, quota: int, cap: int
) -> None:
    monkeypatch.setattr(imports, "BATCH_SIZE", batch)
    pool = _routing(org, daily_quota=quota, cap=cap)
    # its own phone: the fixture's default numbers grow past eleven digits in a long session
    existing = make_customer(org["admin"], pool=pool, phone="13712345678")
    (old, old_sent), (new, new_sent) = _both_paths(
        org, monkeypatch, _file(300, taken=existing.phone), pool
    )
    plans = old["plans"]
    assert old["decisions"] and old["notes"]
    assert any(p[7] for p in plans), "some rows are routed"
    biting = any(p[1] == "create" and not p[7] for p in plans)
    assert biting is (quota < 1000), "caps or quotas leave some pooled"
    assert any(p[1] == "duplicate" and p[4] for p in plans), "a duplicate inside the file"
    assert any(p[1] == "duplicate" and not p[4] for p in plans), "a duplicate of the database"
    assert any(p[1] == "error" for p in plans), "bad rows"
    assert _updates_of_customers(old_sent) > 0
    assert _updates_of_customers(new_sent) == 0
    for part, rows in old.items():
        assert rows == new[part], part


def test_skipped_duplicates_and_named_owners_keep_their_plans(
    org: dict[str, Any], monkeypatch: Any
) -> None:
    """A batch naming an owner is written the old way (screened against the rows above it
    as written), the others the new way: the same result either way."""
    monkeypatch.setattr(imports, "BATCH_SIZE", 120)
    pool = _routing(org, daily_quota=1000, cap=1000)
    lines = _file(300).decode().splitlines()
    lines[0] += ",负责人"
    lines = [lines[0]] + [f"{line}," for line in lines[1:]]
    lines[150] += org["rep_a"].username
    content = ("\n".join(lines) + "\n").encode()
    (old, _old_sent), (new, new_sent) = _both_paths(
        org, monkeypatch, content, pool, on_duplicate="skip"
    )
    assert any(p[1] == "skip" for p in old["plans"])
    assert old["plans"][149][6] == org["rep_a"].pk and not old["plans"][149][7]
    assert _updates_of_customers(new_sent) > 0, "the batch naming an owner updates"
    for part, rows in old.items():
        assert rows == new[part], part


def _written_counts() -> tuple[int, int]:
    """Rows inserted and updated in the customers table by this transaction (PostgreSQL)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT n_tup_ins, n_tup_upd FROM pg_stat_xact_user_tables WHERE relname = %s",
            [Customer._meta.db_table],
        )
        found = cursor.fetchone()
    return (found[0], found[1]) if found else (0, 0)


def test_a_routed_row_is_written_by_one_insert_and_no_update(
    org: dict[str, Any], monkeypatch: Any
) -> None:
    monkeypatch.setattr(imports, "BATCH_SIZE", 400)
    pool = _routing(org, daily_quota=1000, cap=1000)
    monkeypatch.setattr(timezone, "now", lambda: NOW)
    job = preview_import(
        Viewer(org["admin"]), file_name="f.csv", content=_file(300), pool_id=pool.pk
    )
    before = _written_counts() if connection.vendor == "postgresql" else (0, 0)
    with CaptureQueriesContext(connection) as sent:
        job = commit_import(Viewer(org["admin"]), job.pk)
    created = job.rows.filter(action="create").count()
    routed = job.rows.filter(routed=True).count()
    assert routed == created > 300 // 2
    statements = [q["sql"] for q in sent.captured_queries]
    assert not [s for s in statements if s.startswith('UPDATE "customers_customer" ')]
    if connection.vendor == "postgresql":  # COPY passes by the driver, not Django's cursor
        inserted, updated = _written_counts()
        assert (inserted - before[0], updated - before[1]) == (created, 0)
    else:
        inserts = [s for s in statements if s.startswith('INSERT INTO "customers_customer" ')]
        assert len(inserts) == 1  # 300-odd rows, one statement
    owned = Customer.objects.filter(status=CustomerStatus.OWNED, owner__isnull=False)
    assert owned.count() == created
    assert not owned.filter(owned_since__isnull=True).exists()
    assert not owned.filter(recycle_due_at__isnull=True).exists()


# --- the existing guarantees, on the new path for every batch ----------------------------------


def _random_rows(rng: random.Random, count: int) -> bytes:
    words = ["远航", "星海", "青禾", "明远", "金桥", "恒通", "悦享", "智联", "云帆", "德信"]
    rows: list[tuple[str, str]] = []
    for i in range(count):
        pick = rng.random()
        if pick < 0.1:
            rows.append(("", f"1370000{i:04d}"))
        elif pick < 0.25 and rows:
            name, phone = rng.choice(rows)
            rows.append((f"{name}（北京）" if name else f"重复{i}", phone))
        else:
            rows.append((f"{rng.choice(words)}{i}号科技有限公司", f"1380000{i:04d}"))
    return ("客户名称,电话\n" + "".join(f"{n},{p}\n" for n, p in rows)).encode()


@contextlib.contextmanager
def _every_batch_owned(batch: int) -> Any:
    """Every batch on the new path (``runs.SERVICE_PATH_MAX`` 0), in a transaction rolled
    back at the end (hypothesis runs many examples in one test)."""
    with transaction.atomic():
        saved = runs.SERVICE_PATH_MAX, imports.BATCH_SIZE
        runs.SERVICE_PATH_MAX, imports.BATCH_SIZE = 0, batch
        try:
            yield
        finally:
            runs.SERVICE_PATH_MAX, imports.BATCH_SIZE = saved
            transaction.set_rollback(True)


HYPOTHESIS = settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@HYPOTHESIS
@given(seed=st.integers(0, 10_000), size=st.integers(1, 40), batch=st.integers(1, 9))
def test_preview_and_commit_agree_when_rows_are_written_owned(
    org: dict[str, Any], seed: int, size: int, batch: int
) -> None:
    with _every_batch_owned(batch):
        pool = _routing(org, daily_quota=6, cap=8)
        content = _random_rows(random.Random(seed), size)
        job = preview_import(
            Viewer(org["admin"]), file_name="f.csv", content=content, pool_id=pool.pk
        )
        planned = list(job.rows.order_by("line").values_list("line", "action", "code", "owner"))
        job = commit_import(Viewer(org["admin"]), job.pk)
        assert list(job.rows.order_by("line").values_list("line", "action", "code", "owner")) == (
            planned
        )
        owners = dict(Customer.objects.values_list("pk", "owner_id"))
        assert owners == dict(job.rows.filter(action="create").values_list("customer", "owner"))


@HYPOTHESIS
@given(seed=st.integers(0, 10_000), size=st.integers(2, 40), data=st.data())
def test_a_commit_killed_at_any_row_resumes_exactly_once_when_written_owned(
    org: dict[str, Any], seed: int, size: int, data: st.DataObject
) -> None:
    with _every_batch_owned(4):
        pool = _routing(org, daily_quota=6, cap=8)
        job = preview_import(
            Viewer(org["admin"]),
            file_name="f.csv",
            content=_random_rows(random.Random(seed), size),
            pool_id=pool.pk,
        )
        job = killed_then_resumed(org["admin"], job, data.draw(st.integers(1, size)))
        created = job.rows.filter(action="create")
        routed = created.filter(routed=True).count()
        assert OwnershipEvent.objects.filter(kind="assigned").count() == routed
        assert Customer.objects.filter(status="owned").count() == routed


def test_a_batch_larger_than_a_run_chunk_is_granted_in_one_chunk(
    org: dict[str, Any], monkeypatch: Any
) -> None:
    """A run walks its customers in chunks (``batch_size``), each counting the reps'
    holdings from the customers table; customers not written yet are not there, so they are
    granted in one chunk and the cap holds."""
    monkeypatch.setattr(imports, "BATCH_SIZE", 200)
    real = services.run_assignment
    monkeypatch.setattr(services, "run_assignment", functools.partial(real, batch_size=40))
    pool = _routing(org, daily_quota=1000, cap=10)
    RepProfile.objects.filter(user=org["rep_a"]).update(holding_cap_override=10)
    job = preview_import(
        Viewer(org["admin"]), file_name="f.csv", content=_file(150), pool_id=pool.pk
    )
    job = commit_import(Viewer(org["admin"]), job.pk)
    held = Counter(Customer.objects.exclude(owner=None).values_list("owner_id", flat=True))
    given = Counter(
        OwnershipEvent.objects.filter(kind="assigned").values_list("to_owner_id", flat=True)
    )
    assert held == given and held and max(held.values()) == 10
    assert AssignmentDecision.objects.values("run").distinct().count() == 1
