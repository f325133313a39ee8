"""Several sweeps at once, at a moment when freezes end and many customers are due: they share
the work without errors, and each customer is unfrozen, recycled and warned exactly once.

The thread test runs on SQLite and PostgreSQL; the process test starts real ``highseas worker``
processes against one PostgreSQL database."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from highseas.accounts.models import Role, User
from highseas.customers.models import Activity, Customer
from highseas.notify.models import Notification
from highseas.pools import ownership
from highseas.pools import sweep as sweep_module
from highseas.pools.invariants import run_checks
from highseas.pools.models import OwnershipEvent, Pool, RecyclePolicy
from highseas.pools.sweep import SweepReport, sweep

# solo: timed, or several processes that want both cores; run alone (scripts/test)
pytestmark = [pytest.mark.solo, pytest.mark.django_db(transaction=True)]

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=timezone.get_default_timezone())
FREEZE_ENDS = T0 + timedelta(days=20)


def book(
    org: dict[str, Any],
    make_user: Callable[..., User],
    make_customer: Callable[..., Customer],
    *,
    frozen: int,
    due: int,
    warned: int = 0,
) -> dict[str, list[int]]:
    """Customers owned since T0 under a 7-day idle limit (warned 3 days before): ``frozen`` of
    them frozen until FREEZE_ENDS (so due as soon as they are unfrozen), ``due`` due long
    before, ``warned`` claimed later so that FREEZE_ENDS falls in their warning window."""
    RecyclePolicy.objects.filter(pool=org["east_pool"]).update(idle_days=7, warn_days=3)
    pool = Pool.objects.select_related("recycle_policy").get(pk=org["east_pool"].pk)
    reps = [org["rep_a"], org["rep_b"]] + [
        make_user(Role.REP, f"sweeper{i}", team=org["east"]) for i in range(4)
    ]
    made: dict[str, list[int]] = {"frozen": [], "due": [], "warned": []}
    for kind, count in (("frozen", frozen), ("due", due), ("warned", warned)):
        at = FREEZE_ENDS - timedelta(days=5) if kind == "warned" else T0
        for index in range(count):
            rep = reps[index % len(reps)]
            customer = make_customer(org["admin"], owner=rep, pool=pool, now=at)
            if kind == "frozen":
                ownership.freeze(
                    rep, customer.pk, until=FREEZE_ENDS, reason="招标期间", now=T0 + timedelta(1)
                )
            made[kind].append(customer.pk)
    return made


def ledger_counts(kind: str) -> Counter[int]:
    return Counter(OwnershipEvent.objects.filter(kind=kind).values_list("customer_id", flat=True))


def assert_each_once(made: dict[str, list[int]]) -> None:
    """Every frozen customer unfrozen once; every frozen and due customer recycled once; every
    customer in its warning window warned once."""
    unfrozen = ledger_counts("unfrozen")
    assert unfrozen == Counter(made["frozen"]), "each freeze ends exactly once"
    assert set(
        OwnershipEvent.objects.filter(kind="unfrozen").values_list("actor_label", flat=True)
    ) == ({"system:freeze_ended"} if made["frozen"] else set())
    assert ledger_counts("recycled") == Counter(made["frozen"] + made["due"])
    warnings = Counter(
        Notification.objects.filter(kind="recycle_warning").values_list("customer_id", flat=True)
    )
    assert warnings == Counter(made["warned"]), "each owner warned once"
    assert not Customer.objects.filter(status="frozen").exists()
    report = run_checks()
    assert report.ok, (report.problems, report.examples)


def concurrent_sweeps(count: int, batch_size: int) -> list[SweepReport]:
    """``count`` sweeps at FREEZE_ENDS on threads released together; none may crash."""
    barrier = threading.Barrier(count)
    results: list[SweepReport | Exception | None] = [None] * count

    def worker(index: int) -> None:
        try:
            barrier.wait(timeout=30)
            results[index] = sweep(FREEZE_ENDS, batch_size=batch_size)
        except Exception as crash:  # reported by the assertion below, never swallowed
            results[index] = crash
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    crashes = [r for r in results if not isinstance(r, SweepReport)]
    assert not crashes, crashes
    return [r for r in results if isinstance(r, SweepReport)]


def test_three_concurrent_sweeps_share_ending_freezes_without_errors(
    org: dict[str, Any],
    make_user: Callable[..., User],
    make_customer: Callable[..., Customer],
) -> None:
    made = book(org, make_user, make_customer, frozen=60, due=30, warned=30)
    reports = concurrent_sweeps(3, batch_size=4)
    assert sorted(c for r in reports for c in r.unfrozen) == sorted(made["frozen"])
    assert sorted(i.customer for r in reports for i in r.recycled) == sorted(
        made["frozen"] + made["due"]
    )
    assert sorted(w.customer for r in reports for w in r.warned) == sorted(made["warned"])
    assert_each_once(made)


def test_concurrent_sweeps_into_a_reassign_queue_make_one_queue(
    org: dict[str, Any],
    make_user: Callable[..., User],
    make_customer: Callable[..., Customer],
) -> None:
    made = book(org, make_user, make_customer, frozen=20, due=20)
    RecyclePolicy.objects.filter(pool=org["east_pool"]).update(destination="reassign_queue")
    reports = concurrent_sweeps(3, batch_size=3)
    queue = Pool.objects.get(is_reassign_queue=True)
    assert sorted(i.customer for r in reports for i in r.recycled) == sorted(
        made["frozen"] + made["due"]
    )
    assert {i.to_pool for r in reports for i in r.recycled} == {queue.pk}
    assert list(queue.admins.all()) == [org["east_manager"]]
    assert_each_once(made)


def test_a_freeze_its_owner_ended_meanwhile_counts_as_done(
    org: dict[str, Any],
    make_user: Callable[..., User],
    make_customer: Callable[..., Customer],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    made = book(org, make_user, make_customer, frozen=3, due=0)
    first = Customer.objects.select_related("owner").get(pk=made["frozen"][0])
    real_unfreeze = ownership.unfreeze  # what the sweep calls

    def owner_first(actor: User | None, customer_id: int, **kwargs: Any) -> Any:
        if customer_id == first.pk:  # the owner ends it just before the sweep does
            ownership.unfreeze(first.owner, first.pk, now=FREEZE_ENDS)
        return real_unfreeze(actor, customer_id, **kwargs)

    monkeypatch.setattr(sweep_module, "unfreeze", owner_first)
    report = sweep(FREEZE_ENDS, batch_size=2)
    assert report.unfrozen == made["frozen"][1:]
    assert ledger_counts("unfrozen") == Counter(made["frozen"])
    assert OwnershipEvent.objects.get(kind="unfrozen", customer=first).actor == first.owner
    assert sorted(i.customer for i in report.recycled) == sorted(made["frozen"])
    assert run_checks().ok


def database_url() -> str:
    """The URL of the database this test writes to (the test database, not the configured one)."""
    db = connection.settings_dict
    credentials = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgresql://{credentials}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


def highseas(*args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "DATABASE_URL": database_url(), "HIGHSEAS_ALLOW_TIME_TRAVEL": "1"}
    command = [str(Path(sys.executable).with_name("highseas")), *args]
    return subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


@pytest.mark.postgres_only
def test_three_worker_processes_share_a_moment_of_ending_freezes_on_postgresql(
    org: dict[str, Any],
    make_user: Callable[..., User],
    make_customer: Callable[..., Customer],
) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("several worker processes on one database need PostgreSQL")
    made = book(org, make_user, make_customer, frozen=300, due=600, warned=60)
    planned = [
        Activity.objects.create(
            customer_id=customer_id,
            kind="call",
            occurred_at=FREEZE_ENDS - timedelta(days=5),  # when it was claimed: no new schedule
            author=org["admin"],
            next_contact_at=FREEZE_ENDS - timedelta(hours=1),
        ).pk
        for customer_id in made["warned"][:30]
    ]
    connection.close()  # the workers alone on the database
    moment = FREEZE_ENDS.isoformat()
    workers = [
        highseas("worker", "--once", "--now", moment, "--batch-size", "10") for _ in range(3)
    ]
    outcomes = [worker.communicate(timeout=600) for worker in workers]
    for worker, (_out, err) in zip(workers, outcomes, strict=True):
        assert (worker.returncode, "Traceback" in err) == (0, False), err
    figures = [json.loads(out.splitlines()[-1]) for out, _err in outcomes]
    print("per-process figures:", *figures, sep="\n  ")
    assert [f["failed"] for f in figures] == [[], [], []]
    assert sum(f["unfrozen"] for f in figures) == len(made["frozen"])
    assert sum(f["recycled"] for f in figures) == len(made["frozen"]) + len(made["due"])
    assert sum(f["warned"] for f in figures) == len(made["warned"])
    assert sum(f["reminders"]["next_contact"] for f in figures) == len(planned)
    busy = [f for f in figures if f["unfrozen"] + f["recycled"] + f["warned"] > 0]
    assert len(busy) > 1, f"the work should be shared: {figures}"
    assert_each_once(made)
    reminders = Counter(
        Notification.objects.filter(kind="next_contact").values_list("dedupe_key", flat=True)
    )
    assert reminders == Counter(f"next_contact:{pk}" for pk in planned)
    check = highseas("check")
    out, err = check.communicate(timeout=600)
    assert check.returncode == 0, out + err
