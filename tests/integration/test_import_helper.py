"""The import's helper process (``intake.preparing``): it prepares the next batch while the
current one is written, gives exactly the rows preparing in line gives, and any way it fails
leaves the batch to be prepared in line."""

from __future__ import annotations

import gc
import multiprocessing
import os
import threading
import time
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from django.db import connection, connections
from django.test import override_settings

from highseas.accounts.models import User
from highseas.accounts.visibility import Viewer
from highseas.intake import imports, preparing
from highseas.intake.importer import Importer
from highseas.intake.imports import commit_import, preview_import
from highseas.intake.models import ImportJob
from highseas.intake.preparing import prepared_batches
from highseas.pools import leases


def _file(rows: int) -> bytes:
    """A file with bad rows (every 7th: a word for a number), duplicates of the row above
    (every 11th: the same phone, spelled with +86 and spaces) and a full-width digit."""
    lines = ["客户名称,手机,员工人数,省份"]
    for n in range(rows):
        phone = f"139{n:08d}"
        if n % 11 == 10:
            phone = f"+86 139 {n - 1:08d}"
        employees = "很多" if n % 7 == 6 else str(10 + n % 90).replace("1", "１")
        lines.append(f"远航{n}号科技有限公司,{phone},{employees},北京")
    return "\n".join(lines).encode()


def _batches(rows: int, size: int) -> list[list[tuple[int, dict[str, str]]]]:
    cells = [
        (
            line,
            {"name": f"远航{line}号（北京）科技", "phone": f"+86 １38{line:08d}", "employees": "x"},
        )
        if line % 5 == 0
        else (line, {"name": f"远航{line}号科技", "phone": f"138{line:08d}", "employees": "12"})
        for line in range(2, rows + 2)
    ]
    return [cells[i : i + size] for i in range(0, len(cells), size)]


def _plans(job: ImportJob) -> list[tuple[Any, ...]]:
    return list(
        job.rows.order_by("line").values_list("line", "action", "code", "duplicate_line", "owner")
    )


def _preview(admin: User, pool: Any, content: bytes) -> ImportJob:
    return preview_import(Viewer(admin), file_name="helper.csv", content=content, pool_id=pool.pk)


def _threads(monkeypatch: Any, *others: threading.Thread) -> None:
    """The threads ``may_fork`` sees: this one and ``others`` (a test run's earlier tests
    may leave threads behind)."""
    seen = SimpleNamespace(
        current_thread=threading.current_thread,
        enumerate=lambda: [threading.current_thread(), *others],
    )
    monkeypatch.setattr(preparing, "threading", seen)


@pytest.fixture
def starts(monkeypatch: Any) -> list[bool]:
    """Whether each walk forked its helper (beside no other thread)."""
    _threads(monkeypatch)
    started: list[bool] = []
    start = preparing._Walk._start

    def noted(walk: Any) -> bool:
        started.append(start(walk))
        return started[-1]

    monkeypatch.setattr(preparing._Walk, "_start", noted)
    return started


def _count_prepared(monkeypatch: Any, in_the_helper: Any = None) -> list[int]:
    """Counts the batches ``Importer.prepare`` prepares in this process; in the helper (a
    forked copy of this process) it runs ``in_the_helper`` first, if given."""
    parent, prepare = os.getpid(), Importer.prepare
    prepared_here: list[int] = []

    def counted(importer: Importer, rows: Any) -> Any:
        if os.getpid() == parent:
            prepared_here.append(1)
        elif in_the_helper is not None:
            in_the_helper()
        return prepare(importer, rows)

    monkeypatch.setattr(Importer, "prepare", counted)
    return prepared_here


@pytest.fixture
def here(monkeypatch: Any) -> list[int]:
    """The batches prepared in this process (the helper's are prepared in its own)."""
    return _count_prepared(monkeypatch)


def _lone_walk(org: dict[str, Any], monkeypatch: Any) -> preparing._Walk:
    """A walk (not started) in a process with no other thread."""
    _threads(monkeypatch)
    return preparing._Walk(_importer(org), lambda batch: batch)


def _walk(importer: Importer, batches: list[Any]) -> list[Any]:
    with prepared_batches(importer, batches, lambda batch: batch) as pairs:
        return list(pairs)


def _importer(org: dict[str, Any]) -> Importer:
    job = _preview(org["admin"], org["east_pool"], _file(3))
    return Importer(job, org["admin"])


def test_the_helper_prepares_what_preparing_in_line_prepares(
    org: dict[str, Any], starts: list[bool], here: list[int]
) -> None:
    importer, batches = _importer(org), _batches(23, 4)
    starts.clear()
    here.clear()
    helped = _walk(importer, batches)
    assert starts == [True]
    assert len(here) == 1  # the first batch; the helper prepared the other five
    with override_settings(HIGHSEAS_IMPORT_HELPER=False):
        in_line = _walk(importer, batches)
    assert starts == [True]  # no helper the second time
    assert [batch for batch, _rows in helped] == batches
    assert helped == in_line
    refused = [row.line for _batch, rows in helped for row in rows if row.refused]
    assert refused == [line for line in range(2, 25) if line % 5 == 0]


def test_a_commit_with_its_helper_does_what_its_preview_said(
    org: dict[str, Any], monkeypatch: Any, starts: list[bool], here: list[int]
) -> None:
    """The preview and the commit each fork a helper (the commit's lease heartbeat runs
    beside it); the preview's plans are those of a preview in line, and the commit does
    exactly what they say."""
    monkeypatch.setattr(imports, "BATCH_SIZE", 5)
    admin, pool, content = org["admin"], org["east_pool"], _file(41)
    with override_settings(HIGHSEAS_IMPORT_HELPER=False):
        in_line = _preview(admin, pool, content)
    assert starts == []
    here.clear()
    job = _preview(admin, pool, content)
    assert starts == [True]
    assert len(here) == 1  # of 9 batches: the helper prepared the other 8
    planned = _plans(job)
    assert planned == _plans(in_line)
    assert {action for _line, action, *_rest in planned} == {"create", "error", "duplicate"}
    here.clear()
    job = commit_import(Viewer(admin), job.pk)
    assert starts == [True, True]
    assert len(here) == 1
    assert job.status == "done" and _plans(job) == planned
    created = job.rows.filter(action="create")
    assert created.exclude(customer=None).count() == created.count() > 20


def _walk_lost_helper(org: dict[str, Any], monkeypatch: Any, failing: Any) -> list[int]:
    _threads(monkeypatch)
    importer, batches = _importer(org), _batches(14, 3)
    with override_settings(HIGHSEAS_IMPORT_HELPER=False):
        expected = _walk(importer, batches)
    here = _count_prepared(monkeypatch, failing)
    walk = preparing._Walk(importer, lambda batch: batch)
    try:
        assert list(walk.pairs(iter(batches))) == expected
        assert walk.process is None and walk.channel is None  # lost, and gone
    finally:
        walk.stop()
    return here


def _fails() -> None:
    raise ValueError("a row the helper cannot take")


def test_a_helper_that_fails_leaves_its_batch_and_the_rest_to_the_walk(
    org: dict[str, Any], monkeypatch: Any
) -> None:
    here = _walk_lost_helper(org, monkeypatch, _fails)
    assert len(here) == 5  # every batch, the first as always and the others once it failed


def test_a_helper_that_does_not_answer_is_killed(org: dict[str, Any], monkeypatch: Any) -> None:
    monkeypatch.setattr(preparing, "ANSWER_SECONDS", 0.5)
    started = time.monotonic()
    here = _walk_lost_helper(org, monkeypatch, lambda: time.sleep(120))
    assert len(here) == 5
    assert time.monotonic() - started < 30


def test_the_helper_runs_no_query(org: dict[str, Any], monkeypatch: Any) -> None:
    """A query in the helper would be sent on this process's connection (one socket, one
    session): it raises there, and the batch is prepared here."""

    def query() -> None:
        User.objects.count()

    here = _walk_lost_helper(org, monkeypatch, query)
    assert len(here) == 5
    assert User.objects.filter(pk=org["admin"].pk).exists()  # this connection unharmed
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        assert cursor.fetchone() == (1,)


def test_a_lone_batch_forks_no_helper(org: dict[str, Any], starts: list[bool]) -> None:
    importer = _importer(org)
    starts.clear()
    assert len(_walk(importer, _batches(4, 10))) == 1
    assert _walk(importer, []) == []
    assert starts == []


@pytest.mark.parametrize("name, forks", [("request-1", False), ("lease-import:7", True)])
def test_a_helper_is_forked_beside_no_thread_but_a_lease_heartbeat(
    monkeypatch: Any, name: str, forks: bool
) -> None:
    _threads(monkeypatch)
    assert preparing.may_fork()
    _threads(monkeypatch, threading.Thread(name=name))
    assert preparing.may_fork() is forks
    with override_settings(HIGHSEAS_IMPORT_HELPER=False):
        assert not preparing.may_fork()


def test_the_command_s_progress_bar_runs_no_thread() -> None:
    from highseas.config.management.commands.import_ import Progress, _Bar

    assert _Bar.monitor_interval == 0

    before = set(threading.enumerate())
    progress = Progress("import")
    progress(1, 10)
    progress(2, 10)
    try:
        assert set(threading.enumerate()) == before
    finally:
        progress.close()


def test_a_heartbeat_holds_no_connection_at_a_fork(monkeypatch: Any) -> None:
    """A lease's heartbeat renews under ``FORK_GUARD`` and closes its connection before it
    lets go; the walk forks under it."""
    monkeypatch.setattr(leases, "LEASE", timedelta(seconds=0.15))
    seen: list[bool] = []

    def renew(name: str, holder: str) -> bool:
        seen.append(leases.FORK_GUARD.locked())
        return True

    closed: list[bool] = []
    wrapper_class = type(connections["default"])
    close = wrapper_class.close

    def noted_close(wrapper: Any) -> None:
        closed.append(leases.FORK_GUARD.locked())
        close(wrapper)

    monkeypatch.setattr(leases, "renew", renew)
    monkeypatch.setattr(wrapper_class, "close", noted_close)
    with leases.heartbeat("import:1", "here"):
        time.sleep(0.4)
    assert len(seen) >= 2 and all(seen)
    assert len(closed) >= len(seen) and all(closed[: len(seen)])


def test_the_walk_forks_only_under_the_guard(org: dict[str, Any], monkeypatch: Any) -> None:
    walk = _lone_walk(org, monkeypatch)
    held = threading.Event()

    def hold() -> None:
        with leases.FORK_GUARD:
            held.set()
            time.sleep(0.5)

    holder = threading.Thread(target=hold)
    holder.start()
    held.wait()
    started = time.monotonic()
    try:
        assert walk._start()
        assert time.monotonic() - started >= 0.4
    finally:
        walk.stop()
        holder.join()


def test_a_fork_leaves_this_process_s_frozen_objects_frozen(
    org: dict[str, Any], monkeypatch: Any
) -> None:
    """A settled process (``config.heap.settle``) keeps its objects frozen after a fork."""
    walk = _lone_walk(org, monkeypatch)
    gc.freeze()
    try:
        frozen = gc.get_freeze_count()
        assert frozen > 0
        assert walk._start()
        # unfrozen, it would be 0; a frozen object whose last reference goes leaves the count
        assert gc.get_freeze_count() >= frozen * 0.99
    finally:
        walk.stop()
        gc.unfreeze()


def test_no_helper_when_forking_fails_or_a_renewal_holds_the_guard(
    org: dict[str, Any], monkeypatch: Any
) -> None:
    walk = _lone_walk(org, monkeypatch)

    def refused(process: Any) -> None:
        raise AssertionError("daemonic processes are not allowed to have children")

    with monkeypatch.context() as patched:
        patched.setattr(multiprocessing.process.BaseProcess, "start", refused)
        assert not walk._start()
    assert walk.process is None and walk.channel is None
    monkeypatch.setattr(preparing, "GUARD_SECONDS", 0.2)
    with leases.FORK_GUARD:  # a renewal waiting on the database
        assert not walk._start()
    assert walk.process is None
    monkeypatch.setattr(multiprocessing, "current_process", lambda: SimpleNamespace(daemon=True))
    assert not preparing.may_fork()
