"""The scheduler's two lanes (``pools.scheduler``): a slow job that blocks never holds back the
ownership lane's sweep; a slow job runs once per due moment however many workers run the slow
lane, one at a time, and a dead worker's lease is taken over once it lapses
(``pools.leases``). Real threads and forked processes, on SQLite and PostgreSQL."""

from __future__ import annotations

import io
import json
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.utils import timezone

from highseas.accounts.models import Role, User
from highseas.customers.models import Customer
from highseas.pools import leases, scheduler
from highseas.pools.models import JobLease, OwnershipEvent, Pool, RecyclePolicy

T = datetime(2026, 11, 2, 9, 0, 30, tzinfo=timezone.get_default_timezone())
JOB = "test:slow"
WAIT = 60.0  # seconds a test waits for another thread or process before it fails


def until(condition: Callable[[], bool], stop: threading.Event) -> bool:
    """Poll ``condition`` every 50 ms for up to ``WAIT`` seconds; whether it came true."""
    for _ in range(int(WAIT / 0.05)):
        if condition():
            return True
        stop.wait(0.05)
    return condition()


# --- the lanes ------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_blocked_slow_job_does_not_delay_the_sweep(
    org: dict[str, Any],
    make_user: Callable[..., User],
    make_customer: Callable[..., Customer],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Both lanes on their threads, as ``highseas serve`` runs them. The slow lane reaches a
    job that waits on an event; only then does the sweep see its customers as due (before, it
    sweeps a year back), and it recycles all of them while the slow job is still blocked."""
    RecyclePolicy.objects.filter(pool=org["east_pool"]).update(idle_days=7)
    pool = Pool.objects.get(pk=org["east_pool"].pk)
    rep = make_user(Role.REP, "lanes_rep", team=org["east"])
    month_ago = timezone.now() - timedelta(days=30)
    due = [make_customer(org["admin"], owner=rep, pool=pool, now=month_ago).pk for _ in range(6)]
    started, release, finished = threading.Event(), threading.Event(), threading.Event()

    def blocked(now: datetime) -> dict[str, Any]:
        started.set()
        release.wait(WAIT)
        finished.set()
        return {"blocked": 1}

    real_sweep = scheduler.sweep

    def sweep_once_blocked(now: datetime, **kwargs: Any) -> Any:
        return real_sweep(now if started.is_set() else now - timedelta(days=365), **kwargs)

    monkeypatch.setitem(scheduler.SLOW_JOBS, JOB, blocked)
    monkeypatch.setattr(scheduler, "sweep", sweep_once_blocked)
    connection.close()
    stop = threading.Event()
    threads = scheduler.start_lanes(scheduler.LANES, 0.05, stop, delivery_interval=0.05)
    try:
        assert started.wait(WAIT), "the slow lane should reach the blocking job"

        def recycled() -> set[int]:
            rows = OwnershipEvent.objects.filter(kind="recycled", customer_id__in=due)
            return set(rows.values_list("customer_id", flat=True))

        all_recycled = until(lambda: recycled() == set(due), stop)
        still_blocked = not finished.is_set()
    finally:
        release.set()
        stop.set()
        for thread in threads:
            thread.join(timeout=WAIT)
    assert all_recycled, f"recycled {sorted(recycled())} of {due} while the slow job blocked"
    assert still_blocked
    assert finished.is_set() and not any(thread.is_alive() for thread in threads)
    assert set(Customer.objects.filter(pk__in=due).values_list("status", flat=True)) == {"pooled"}


@pytest.mark.django_db
def test_each_lane_runs_only_its_own_jobs(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    monkeypatch.setitem(scheduler.SLOW_JOBS, JOB, lambda now: calls.append("slow") or {})
    ownership = scheduler.run_periodic_jobs(T, lane=scheduler.OWNERSHIP)
    assert calls == []
    assert set(ownership["ms"]) == {
        *("recompute", "sweep", "expire_requests", "reminders", "deliveries"),
    }
    slow = scheduler.run_periodic_jobs(T, lane=scheduler.SLOW)
    assert calls == ["slow"]
    assert "sweep" not in slow["ms"] and "deliveries" not in slow["ms"]
    assert {"digests", JOB} <= set(slow["ms"])
    assert (slow["failed"], slow["skipped"]) == ([], [])


@pytest.mark.django_db
def test_a_failing_slow_job_is_named_freed_and_run_again_at_its_next_moment(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def crash(now: datetime) -> dict[str, Any]:
        raise RuntimeError("the model would not converge")

    monkeypatch.setitem(scheduler.SLOW_JOBS, JOB, crash)
    figures = scheduler.run_periodic_jobs(T, lane=scheduler.SLOW)
    assert figures["failed"] == [JOB]
    assert "digests" in figures  # the other slow jobs still ran
    assert "RuntimeError: the model would not converge" in caplog.text
    lease = JobLease.objects.get(name=JOB)
    assert (lease.holder, lease.expires_at, lease.last_failed) == ("", None, True)
    assert scheduler.run_periodic_jobs(T, lane=scheduler.SLOW)["skipped"] == [
        "digests",
        *scheduler.SLOW_JOBS,
    ], "every slow job ran for this minute already"
    monkeypatch.setitem(scheduler.SLOW_JOBS, JOB, lambda now: {"recovered": 1})
    again = scheduler.run_periodic_jobs(T + timedelta(minutes=1), lane=scheduler.SLOW)
    assert (again["failed"], again["skipped"], again["recovered"]) == ([], [], 1)
    assert JobLease.objects.get(name=JOB).last_failed is False


@pytest.mark.django_db
def test_worker_once_runs_the_lane_it_is_given(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[datetime] = []
    monkeypatch.setitem(scheduler.SLOW_JOBS, JOB, lambda now: calls.append(now) or {})
    out = io.StringIO()
    call_command("worker", "--once", "--lane", "ownership", stdout=out)
    assert "sweep" in json.loads(out.getvalue())["ms"] and calls == []
    out = io.StringIO()
    call_command("worker", "--once", "--lane", "slow", stdout=out)
    figures = json.loads(out.getvalue())
    assert "sweep" not in figures["ms"] and JOB in figures["ms"] and len(calls) == 1
    with pytest.raises(CommandError, match="invalid choice"):
        call_command("worker", "--once", "--lane", "fast", stdout=io.StringIO())


# --- one worker at a time, once per due moment ----------------------------------------------


def _slow_lane(moment: datetime, results: Any) -> None:
    """A forked worker: the slow lane once at ``moment``; its figures go to ``results``."""
    connection.close()  # the child opens its own connection
    try:
        figures = scheduler.run_periodic_jobs(moment, lane=scheduler.SLOW)
        results.put({"pid": os.getpid(), **figures})
    except Exception as crash:  # reported through the queue, never swallowed
        results.put({"pid": os.getpid(), "crash": repr(crash)})
    finally:
        connection.close()


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """A slow job, shared with forked workers, that counts its runs in ``ran`` and waits for
    ``release`` once it has ``started``. ``release`` is a lock-free flag the job polls: a
    worker killed while waiting on a multiprocessing ``Event`` would leave the event's
    ``set()`` waiting forever for that sleeper to wake."""
    context = multiprocessing.get_context("fork")
    shared = {
        "context": context,
        "ran": context.Value("i", 0),
        "started": context.Event(),
        "release": context.RawValue("i", 0),
        "results": context.Queue(),
    }

    def job(now: datetime) -> dict[str, Any]:
        with shared["ran"].get_lock():
            shared["ran"].value += 1
        shared["started"].set()
        deadline = time.monotonic() + WAIT
        while not shared["release"].value and time.monotonic() < deadline:
            time.sleep(0.01)
        return {"counted": 1}

    monkeypatch.setattr(scheduler, "SLOW_JOBS", {JOB: job})
    return shared


def fork(counted: dict[str, Any], moment: datetime) -> Any:
    worker = counted["context"].Process(target=_slow_lane, args=(moment, counted["results"]))
    worker.start()
    return worker


@pytest.mark.django_db(transaction=True)
def test_two_slow_lane_workers_run_a_slow_job_once_per_due_moment(
    org: dict[str, Any], counted: dict[str, Any]
) -> None:
    connection.close()
    workers = [fork(counted, T), fork(counted, T + timedelta(seconds=20))]  # the same minute
    assert counted["started"].wait(WAIT)
    first = counted["results"].get(timeout=WAIT)  # the one that found the job held
    counted["release"].value = 1
    second = counted["results"].get(timeout=WAIT)
    for worker in workers:
        worker.join(timeout=WAIT)
    assert "crash" not in first and "crash" not in second, (first, second)
    assert (JOB in first["skipped"], "counted" in first) == (True, False)
    assert (JOB in second["skipped"], second["counted"], second["failed"]) == (False, 1, [])
    assert counted["ran"].value == 1

    again = fork(counted, T + timedelta(seconds=29))  # after it finished, still that minute
    assert JOB in counted["results"].get(timeout=WAIT)["skipped"]
    nxt = fork(counted, T + timedelta(minutes=1))
    assert counted["results"].get(timeout=WAIT)["counted"] == 1
    for worker in (again, nxt):
        worker.join(timeout=WAIT)
    assert counted["ran"].value == 2, "once per due moment"
    lease = JobLease.objects.get(name=JOB)
    assert (lease.holder, lease.expires_at) == ("", None)
    assert lease.due == leases.due_moment(T + timedelta(minutes=1), scheduler.PERIOD)


@pytest.mark.django_db(transaction=True)
def test_a_killed_workers_lease_is_taken_over_once_it_lapses(
    org: dict[str, Any], counted: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    connection.close()
    killed = fork(counted, T)
    assert counted["started"].wait(WAIT)
    os.kill(killed.pid, signal.SIGKILL)  # dies holding the lease, mid-run
    killed.join(timeout=WAIT)
    held = JobLease.objects.get(name=JOB)
    assert held.holder.split(":")[1] == str(killed.pid) and held.expires_at is not None

    counted["release"].value = 1  # from here the job returns at once
    later = T + timedelta(minutes=1)
    assert scheduler.run_periodic_jobs(later, lane=scheduler.SLOW)["skipped"] == [JOB]
    assert counted["ran"].value == 1, "a live lease is not taken, even at a later moment"

    lapsed = held.expires_at + timedelta(seconds=1)
    monkeypatch.setattr(leases, "clock", lambda: lapsed)
    figures = scheduler.run_periodic_jobs(T, lane=scheduler.SLOW)
    assert (JOB in figures["skipped"], figures["counted"]) == (False, 1), "taken over"
    assert counted["ran"].value == 2
    lease = JobLease.objects.get(name=JOB)
    assert (lease.holder, lease.expires_at, lease.finished_at) == ("", None, lapsed)


@pytest.mark.django_db(transaction=True)
def test_a_long_run_keeps_its_lease_past_its_length(
    org: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The lease lasts 0.6 s and the job runs for longer: the heartbeat renews it, so a second
    worker trying meanwhile, at the next moment, finds it held."""
    monkeypatch.setattr(leases, "LEASE", timedelta(seconds=0.6))
    started, release = threading.Event(), threading.Event()
    runs: list[datetime] = []

    def job(now: datetime) -> dict[str, Any]:
        runs.append(now)
        started.set()
        release.wait(WAIT)
        return {}

    monkeypatch.setattr(scheduler, "SLOW_JOBS", {JOB: job})
    connection.close()
    first = threading.Thread(target=scheduler.run_periodic_jobs, args=(T,), kwargs={"lane": "slow"})
    first.start()
    try:
        assert started.wait(WAIT)
        release.wait(1.5)  # well past the lease's 0.6 s
        second = scheduler.run_periodic_jobs(T + timedelta(minutes=1), lane=scheduler.SLOW)
    finally:
        release.set()
        first.join(timeout=WAIT)
        connection.close()
    assert second["skipped"] == [JOB] and runs == [T]
    lease = JobLease.objects.get(name=JOB)
    assert (lease.holder, lease.expires_at, lease.last_ms is not None) == ("", None, True)
    assert lease.last_ms >= 1500


@pytest.mark.django_db
def test_a_late_worker_does_not_run_an_earlier_moment_after_a_later_one_ran() -> None:
    """A worker whose slow lane spent minutes on the jobs before this one comes with its old
    ``now``: the job already ran for a later moment, so it is skipped, live lease or not."""
    earlier, later = T, T + timedelta(minutes=2)
    assert leases.take(JOB, later, "B")
    assert not leases.take(JOB, earlier, "A")  # B still holds it
    assert leases.release(JOB, "B", took_ms=1.0, failed=False)
    assert not leases.take(JOB, earlier, "A"), "an earlier moment after a later one ran"
    assert leases.take(JOB, later + timedelta(minutes=1), "A")


# --- a slow job beside the claims -----------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_the_pool_size_job_reads_the_ledger_and_the_counts_at_one_moment(
    org: dict[str, Any],
    make_customer: Callable[..., Customer],
    make_pool: Callable[..., Pool],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A rep claims the only customer of a new pool between the job's ledger read and its live
    count (the slow lane runs beside the claims). Read at two moments, yesterday's replayed
    size came out as -1 and the row's check failed the job (seen in the scale-out test)."""
    from highseas.insights import snapshots
    from highseas.insights.models import PoolSizeDay
    from highseas.pools import ownership

    pool = make_pool("新公海", teams=[org["east"]])
    customer = make_customer(org["admin"], pool=pool)
    real_live_sizes = snapshots.live_sizes

    def claim() -> None:
        try:
            ownership.claim(org["rep_a"], customer.pk)
        finally:
            connection.close()

    claims: list[threading.Thread] = []

    def claimed_meanwhile(pool_ids: list[int]) -> dict[int, int]:
        if not claims:  # before the first live read only
            claimer = threading.Thread(target=claim)
            claims.append(claimer)
            claimer.start()
            claimer.join(timeout=WAIT)
        return real_live_sizes(pool_ids)

    monkeypatch.setattr(snapshots, "live_sizes", claimed_meanwhile)
    figures = scheduler.run_periodic_jobs(lane=scheduler.SLOW)
    assert figures["failed"] == [] and "insights:pool_sizes" in figures["ms"]
    assert Customer.objects.get(pk=customer.pk).owner == org["rep_a"]
    sizes = PoolSizeDay.objects.filter(pool=pool).order_by("day")
    assert [row.pooled for row in sizes][-2:] == [0, 1]  # as of the job's one moment
