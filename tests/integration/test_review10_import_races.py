"""Review of routed import rows written once, already owned, under real threads: an import
whose batches are routed before their customers are inserted (``bulk_assign.Unwritten``)
races claims, releases, a manager's assignments and backlog runs of the same reps. Nobody
exceeds the holding cap, no customer gets two owners, every owner is the one its last ledger
row names, and nothing deadlocks (PostgreSQL: row locks; SQLite: one writer at a time)."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.db.models import Count

from highseas.accounts.models import RepProfile
from highseas.accounts.visibility import Viewer
from highseas.customers.models import Customer
from highseas.engine.errors import HighSeasError
from highseas.intake import imports
from highseas.intake.importer import Importer
from highseas.intake.imports import commit_import, preview_import
from highseas.pools import ownership
from highseas.pools.models import OwnershipEvent, Pool
from highseas.pools.services import save_pool
from highseas.routing.models import AssignmentRule
from highseas.routing.services import run_assignment
from tests.races import race

pytestmark = pytest.mark.django_db(transaction=True)
CAP = 25


def _file(count: int) -> bytes:
    lines = ["客户名称,电话"] + [f"竞速{i}号科技有限公司,1360000{i:04d}" for i in range(count)]
    return ("\n".join(lines) + "\n").encode()


def test_an_owned_import_racing_claims_releases_and_assigns_keeps_caps_and_one_owner(
    org: dict[str, Any], make_customer: Callable[..., Customer], monkeypatch: Any
) -> None:
    pool = org["east_pool"]
    rep_a, rep_b, manager = org["rep_a"], org["rep_b"], org["east_manager"]
    save_pool(pool, recycle_policy={"idle_days": 9, "warn_days": 2})
    pool.claim_policy.daily_quota = 1000
    pool.claim_policy.save()
    for rep in (rep_a, rep_b):
        RepProfile.objects.get_or_create(user=rep)
    RepProfile.objects.filter(user__in=[rep_a, rep_b]).update(holding_cap_override=CAP)
    monkeypatch.setattr(imports, "BATCH_SIZE", 70)  # > SERVICE_PATH_MAX: routed unwritten
    owned_path: list[bool] = []
    real = Importer._routes_before_insert

    def spied(self: Importer, rows: Any) -> bool:
        chosen = real(self, rows)
        owned_path.append(chosen)
        return chosen

    monkeypatch.setattr(Importer, "_routes_before_insert", spied)
    existing = [make_customer(org["admin"], pool=pool) for _ in range(70)]
    held_a = [make_customer(org["admin"], pool=pool) for _ in range(4)]
    for customer in held_a:
        ownership.claim(rep_a, customer.pk)
    # after the customers above: a create is routed too
    AssignmentRule.objects.create(
        name="全部", target={"team": org["east"].pk, "strategy": "round_robin"}, conditions={}
    )
    job = preview_import(
        Viewer(org["admin"]), file_name="f.csv", content=_file(280), pool_id=pool.pk
    )
    barrier = threading.Barrier(5)
    crashes: list[str] = []
    tallies: Counter[str] = Counter()

    def run(action: Callable[[], None]) -> Callable[[], None]:
        def body() -> None:
            try:
                connection.ensure_connection()
                barrier.wait(timeout=30)
                action()
            except BaseException as crash:
                crashes.append(repr(crash))
            finally:
                connection.close()

        return body

    def importing() -> None:
        """Commit; when the race changed a routing the preview showed (``state_conflict``:
        a batch planned otherwise is refused whole), preview the file again and commit that,
        as a person would, until it is done."""
        current = job
        for _attempt in range(20):
            try:
                done = commit_import(Viewer(org["admin"]), current.pk)
            except HighSeasError as refusal:
                assert refusal.code.value == "state_conflict", refusal
                tallies["import re-previewed"] += 1
                current = preview_import(
                    Viewer(org["admin"]), file_name="f.csv", content=_file(280), pool_id=pool.pk
                )
                continue
            assert done.status == "done", done.error
            tallies["import done"] += 1
            return

    def claiming(rep: Any, customers: list[Customer]) -> Callable[[], None]:
        def body() -> None:
            for customer in customers:
                try:
                    ownership.claim(rep, customer.pk)
                    tallies["claimed"] += 1
                except HighSeasError as refusal:
                    tallies[refusal.code.value] += 1
                time.sleep(0.02)  # spread over the import's batches

        return body

    def routing() -> None:
        """Backlog runs of the same rule over the pool, set-based, while the rest goes on."""
        for _ in range(3):
            run_assignment(None, pool=pool, dry_run=False, apply_mode="bulk")
            tallies["backlog run"] += 1
            time.sleep(0.2)

    def managing() -> None:
        for index, customer in enumerate(existing[60:]):
            try:
                ownership.assign(manager, customer.pk, (rep_a, rep_b)[index % 2])
                tallies["assigned"] += 1
            except HighSeasError as refusal:
                tallies[refusal.code.value] += 1
            time.sleep(0.05)
            if index < len(held_a):
                try:
                    ownership.release(rep_a, held_a[index].pk, reason="评审")
                    tallies["released"] += 1
                except HighSeasError as refusal:
                    tallies[refusal.code.value] += 1

    threads = [
        threading.Thread(target=run(importing)),
        threading.Thread(target=run(claiming(rep_a, existing[:30]))),
        threading.Thread(target=run(claiming(rep_b, existing[30:60]))),
        threading.Thread(target=run(managing)),
        threading.Thread(target=run(routing)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert not crashes, crashes
    assert tallies["import done"] == 1, tallies
    assert owned_path and all(owned_path), "the import took the owned write"
    held = dict(
        Customer.objects.filter(owner__isnull=False)
        .values_list("owner_id")
        .annotate(n=Count("id"))
        .values_list("owner_id", "n")
    )
    assert held.get(rep_a.pk, 0) <= CAP and held.get(rep_b.pk, 0) <= CAP, (held, tallies)
    # every owner is the one the customer's last ledger row names
    last: dict[int, Any] = {}
    for customer_id, to_owner in OwnershipEvent.objects.order_by("id").values_list(
        "customer_id", "to_owner_id"
    ):
        last[customer_id] = to_owner
    owners = dict(Customer.objects.values_list("pk", "owner_id"))
    assert {pk: last.get(pk) for pk in owners} == owners


def _every_row_to_rep_a(org: dict[str, Any], monkeypatch: Any) -> Pool:
    """The east pool, recycling, whose every imported row goes to rep_a without limits (so
    that each row's routing does not depend on another writer), in batches of 60."""
    pool = org["east_pool"]
    save_pool(pool, recycle_policy={"idle_days": 9, "warn_days": 2})
    AssignmentRule.objects.create(name="全部", target={"user": org["rep_a"].pk}, conditions={})
    pool.claim_policy.daily_quota = 10_000
    pool.claim_policy.save()
    RepProfile.objects.get_or_create(user=org["rep_a"])
    RepProfile.objects.filter(user=org["rep_a"]).update(holding_cap_override=10_000)
    monkeypatch.setattr(imports, "BATCH_SIZE", 60)
    return pool


def test_two_owned_imports_at_once_reserve_distinct_ids(
    org: dict[str, Any], monkeypatch: Any
) -> None:
    """Two imports committed at once, each reserving its batches' ids before writing them:
    every customer is written once with its own id, routed or pooled, and on SQLite the
    ``AUTOINCREMENT`` counter ends at the highest id."""
    pool = _every_row_to_rep_a(org, monkeypatch)
    files = [
        "客户名称,电话\n" + "".join(f"并行{n}-{i}号有限公司,135{n}000{i:04d}\n" for i in range(240))
        for n in range(2)
    ]
    jobs = [
        preview_import(
            Viewer(org["admin"]), file_name=f"{n}.csv", content=f.encode(), pool_id=pool.pk
        )
        for n, f in enumerate(files)
    ]
    outcomes = race(2, lambda i: commit_import(Viewer(org["admin"]), jobs[i].pk))
    assert outcomes == Counter({"ok": 2}), outcomes
    rows = [
        set(job.rows.exclude(customer=None).values_list("customer_id", flat=True)) for job in jobs
    ]
    assert len(rows[0]) == len(rows[1]) == 240 and not rows[0] & rows[1]
    assert Customer.objects.count() == 480
    assert Customer.objects.filter(owner=org["rep_a"]).count() == 480
    assert OwnershipEvent.objects.filter(kind="assigned").count() == 480
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT seq FROM sqlite_sequence WHERE name = %s", [Customer._meta.db_table]
            )
            (seq,) = cursor.fetchone()
        assert seq == max(rows[0] | rows[1])


def test_creates_during_an_owned_import_take_ids_apart_from_its_reserved_ones(
    org: dict[str, Any], make_customer: Callable[..., Customer], monkeypatch: Any
) -> None:
    """Customers created one by one while an import reserves its batches' ids and inserts
    them later: no id is given twice (SQLite: the batch's write lock keeps the counter;
    PostgreSQL: both take the sequence), and each customer is written once."""
    pool = _every_row_to_rep_a(org, monkeypatch)
    job = preview_import(
        Viewer(org["admin"]), file_name="f.csv", content=_file(240), pool_id=pool.pk
    )
    made: list[int] = []

    def act(index: int) -> None:
        if index == 0:
            commit_import(Viewer(org["admin"]), job.pk)
            return
        for _ in range(15):
            made.append(make_customer(org["admin"], pool=pool).pk)
            time.sleep(0.01)

    outcomes = race(2, act)
    assert outcomes == Counter({"ok": 2}), outcomes
    imported = set(job.rows.exclude(customer=None).values_list("customer_id", flat=True))
    assert len(imported) == 240 and len(set(made)) == 15 and not imported & set(made)
    assert Customer.objects.count() == 255
    assert Customer.objects.filter(owner=org["rep_a"]).count() == 255
    assert OwnershipEvent.objects.filter(kind="assigned").count() == 255
