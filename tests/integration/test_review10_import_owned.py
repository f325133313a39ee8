"""Review of routed import rows written once, already owned (``bulk_assign.Unwritten``): the
ids an import reserves before it writes its customers (``rows.reserve_ids``) stay unique and
ahead of SQLite's ``AUTOINCREMENT`` counter; a batch killed after its ledger rows and
before its customers' insert leaves nothing, and the resumed commit writes each row once."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from django.db import connection

from highseas.accounts.models import RepProfile
from highseas.accounts.visibility import Viewer
from highseas.customers.models import Customer
from highseas.intake import imports
from highseas.intake.imports import commit_import, preview_import
from highseas.notify.models import Notification
from highseas.pools import bulk_assign
from highseas.pools.models import OwnershipEvent, Pool
from highseas.pools.services import save_pool
from highseas.routing.models import AssignmentDecision, AssignmentRule

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 6, 1, 2, 0, tzinfo=UTC)
CAP = 10


def _file(count: int) -> bytes:
    lines = ["客户名称,电话"]
    lines += [f"评审{i}号贸易有限公司,1390000{i:04d}" for i in range(count)]
    return ("\n".join(lines) + "\n").encode()


def _capped(org: dict[str, Any], *, cap: int = CAP, quota: int = 1000) -> Pool:
    """A round-robin rule over the east team; each east rep holds at most ``cap``."""
    pool: Pool = org["east_pool"]
    save_pool(pool, recycle_policy={"idle_days": 9, "warn_days": 2})
    pool.claim_policy.daily_quota = quota
    pool.claim_policy.save()
    RepProfile.objects.filter(user__in=[org["rep_a"], org["rep_b"]]).update(
        holding_cap_override=cap
    )
    AssignmentRule.objects.create(
        name="全部", target={"team": org["east"].pk, "strategy": "round_robin"}, conditions={}
    )
    return pool


def _commit(org: dict[str, Any], pool: Pool, content: bytes) -> Any:
    job = preview_import(Viewer(org["admin"]), file_name="f.csv", content=content, pool_id=pool.pk)
    job = commit_import(Viewer(org["admin"]), job.pk)
    assert job.status == "done", job.error
    return job


def test_reserved_ids_on_sqlite_stay_ahead_of_the_autoincrement_counter(
    org: dict[str, Any], monkeypatch: Any
) -> None:
    """Customers deleted at the table's end leave ``sqlite_sequence`` above the highest id:
    an import's reserved ids start past the counter, never reusing a deleted customer's id,
    and the counter moves past them, so the next plain insert does not collide."""
    if connection.vendor != "sqlite":
        pytest.skip("SQLite's AUTOINCREMENT counter")
    monkeypatch.setattr(imports, "BATCH_SIZE", 200)
    pool = _capped(org, cap=1000)
    first = _commit(org, pool, _file(80))
    first_ids = set(first.rows.exclude(customer=None).values_list("customer_id", flat=True))
    top = max(first_ids)
    OwnershipEvent.objects.filter(customer_id__in=first_ids).delete()
    Customer.objects.filter(pk__in=first_ids).delete()  # the counter stays at ``top``
    content = "客户名称,电话\n" + "".join(f"复评{i}号有限公司,1370000{i:04d}\n" for i in range(80))
    second = _commit(org, pool, content.encode())
    second_ids = set(second.rows.exclude(customer=None).values_list("customer_id", flat=True))
    assert len(second_ids) == 80 and min(second_ids) > top
    with connection.cursor() as cursor:
        cursor.execute("SELECT seq FROM sqlite_sequence WHERE name = %s", [Customer._meta.db_table])
        (seq,) = cursor.fetchone()
    assert seq == max(second_ids)


class Killed(Exception):
    pass


def test_a_commit_killed_between_the_ledger_and_the_insert_resumes_exactly_once(
    org: dict[str, Any], monkeypatch: Any
) -> None:
    """The second batch dies after its ledger rows, decisions and notifications are written
    and before its customers are inserted (``Unwritten.insert``): nothing of that batch stays,
    the first batch stays whole, and the resumed commit writes every row once."""

    monkeypatch.setattr(imports, "BATCH_SIZE", 70)
    pool = _capped(org, cap=1000)
    job = preview_import(
        Viewer(org["admin"]), file_name="f.csv", content=_file(200), pool_id=pool.pk
    )
    real_insert = bulk_assign.Unwritten.insert
    calls: list[int] = []
    seen: dict[str, int] = {}

    def dying(self: bulk_assign.Unwritten) -> None:
        calls.append(len(self.customers))
        if len(calls) == 2:
            seen["ledger"] = OwnershipEvent.objects.filter(kind="assigned").count()
            raise Killed
        real_insert(self)

    monkeypatch.setattr(bulk_assign.Unwritten, "insert", dying)
    with pytest.raises(Killed):
        commit_import(Viewer(org["admin"]), job.pk)
    first = set(Customer.objects.values_list("pk", flat=True))
    assert len(first) == 70 and seen["ledger"] > 70  # the dying batch had written its ledger
    assert OwnershipEvent.objects.filter(kind="assigned").count() == 70
    assert not OwnershipEvent.objects.exclude(customer_id__in=first).exists()
    assert not AssignmentDecision.objects.exclude(customer_id__in=first).exists()
    assert not Notification.objects.exclude(customer_id__in=first).exclude(customer=None).exists()
    monkeypatch.setattr(bulk_assign.Unwritten, "insert", real_insert)
    job = commit_import(Viewer(org["admin"]), job.pk)
    assert job.status == "done", job.error
    created = job.rows.filter(action="create")
    assert created.count() == Customer.objects.count() == 200
    assert set(created.values_list("customer_id", flat=True)) == set(
        Customer.objects.values_list("pk", flat=True)
    )
    assert OwnershipEvent.objects.filter(kind="assigned").count() == 200
    assert Customer.objects.filter(owner__isnull=False).count() == 200
    assert AssignmentDecision.objects.count() == 200
