"""Two commits of the same previewed import at once (a double click, or the CLI and the console
together), on real threads and connections: each batch reads its rows to do by their line
range under their locks, so whichever commit takes a batch first does it and the other finds
nothing left there. Every good row is created once, with one ``created`` ledger row, the
plans stay the preview's, the job ends ``done`` and is audited once, and neither commit
fails on a batch the other did. One commit of a job runs at a time (its lease); a commit
killed with its process is taken over at once on the same host."""

from __future__ import annotations

import random
import socket
import subprocess
import sys
from collections import Counter
from typing import Any

import pytest

from highseas.accounts.models import AuditLog
from highseas.accounts.visibility import Viewer
from highseas.customers.models import Customer
from highseas.intake import imports
from highseas.intake.imports import commit_import, preview_import
from highseas.pools import leases
from highseas.pools.invariants import run_checks
from highseas.pools.models import JobLease, OwnershipEvent
from highseas.routing.models import AssignmentRule
from tests.races import race

pytestmark = pytest.mark.django_db(transaction=True)


def rows_with_duplicates(count: int) -> bytes:
    rng = random.Random(8)
    rows: list[tuple[str, str]] = []
    for i in range(count):
        if rng.random() < 0.2 and rows:
            name, phone = rng.choice(rows)
            rows.append((f"{name}（北京）", phone))  # a duplicate of an earlier line
        else:
            rows.append((f"远航{i}号科技有限公司", f"1380000{i:04d}"))
    return ("客户名称,电话\n" + "".join(f"{n},{p}\n" for n, p in rows)).encode()


def plans(job: Any) -> list[tuple[Any, ...]]:
    return list(
        job.rows.order_by("line").values_list("line", "action", "code", "duplicate_line", "owner")
    )


@pytest.mark.parametrize("mode", ["skip", "merge"])
def test_two_commits_of_one_import_at_once_create_each_row_once(
    org: dict[str, Any], monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    monkeypatch.setattr(imports, "BATCH_SIZE", 3)
    AssignmentRule.objects.create(
        name="全部", target={"team": org["east"].pk, "strategy": "round_robin"}, conditions={}
    )
    viewer = Viewer(org["admin"])
    job = preview_import(
        viewer,
        content=rows_with_duplicates(24),
        pool_id=org["east_pool"].pk,
        file_name="twice.csv",
        on_duplicate=mode,
    )
    planned = plans(job)
    creates = [line for line, action, *_rest in planned if action == "create"]
    assert len(creates) > 10 and len(creates) < len(planned)  # duplicates cross batches

    outcomes = race(2, lambda _index: commit_import(viewer, job.pk))

    assert outcomes == Counter({"ok": 2}), outcomes
    job.refresh_from_db()
    assert job.status == "done", (job.status, job.error)
    assert plans(job) == planned
    created = job.rows.filter(action="create")
    assert created.filter(is_done=True).count() == len(creates)
    assert Customer.objects.count() == len(creates)
    assert set(Customer.objects.values_list("pk", flat=True)) == set(
        created.values_list("customer", flat=True)
    )
    assert OwnershipEvent.objects.filter(kind="created").count() == len(creates)
    audited = AuditLog.objects.filter(action=AuditLog.Action.IMPORT, target_id=str(job.pk))
    assert audited.count() == 1
    report = run_checks()
    assert report.ok, (report.problems, report.examples)


def test_a_commit_finding_the_job_held_returns_it_as_it_stands(org: dict[str, Any]) -> None:
    viewer = Viewer(org["admin"])
    job = preview_import(
        viewer, content=rows_with_duplicates(6), pool_id=org["east_pool"].pk, file_name="a.csv"
    )
    other = f"{socket.gethostname()}:1:elsewhere:0"  # a live process (init) holds it
    assert leases.take(f"import:{job.pk}", leases.clock(), other)

    returned = commit_import(viewer, job.pk)

    assert returned.status == "previewed" and not returned.rows.filter(is_done=True).exists()
    assert Customer.objects.count() == 0
    assert JobLease.objects.get(name=f"import:{job.pk}").holder == other


def test_a_commit_killed_with_its_process_is_taken_over_at_once(org: dict[str, Any]) -> None:
    viewer = Viewer(org["admin"])
    job = preview_import(
        viewer, content=rows_with_duplicates(6), pool_id=org["east_pool"].pk, file_name="a.csv"
    )
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    assert leases.take(f"import:{job.pk}", leases.clock(), f"{socket.gethostname()}:{gone.pid}:x:0")

    returned = commit_import(viewer, job.pk)

    assert returned.status == "done"
    assert Customer.objects.count() == returned.rows.filter(action="create").count() > 0
    lease = JobLease.objects.get(name=f"import:{job.pk}")
    assert (lease.holder, lease.expires_at, lease.last_failed) == ("", None, False)


def test_a_lease_of_another_host_is_left_to_lapse(org: dict[str, Any]) -> None:
    name = "import:elsewhere"
    assert leases.take(name, leases.clock(), "another-host:999999:x:0")
    assert not leases.take_from_the_dead(name, leases.clock(), leases.new_holder())
