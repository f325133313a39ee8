"""Periodic jobs, in two lanes that never wait for each other.

1. The ownership lane: the sweep, claim-request expiry, reminders, the recompute of schedules
   that a killed change of a recycle policy left unfinished, and the outbox of e-mail and
   webhook deliveries, which is also drained every ``DELIVERY_INTERVAL`` seconds between two
   runs, so a notification goes out soon after it was written. Short jobs, every minute; any
   number of workers run them at once, each batch safe by its own row locks and
   compare-and-set writes.
2. The slow lane: the daily digests and the jobs the layers above register
   (``register_job``: the insights' parts, win-model retraining, scheduled handovers). Each
   runs at most once per due moment (the minute), by one worker at a time across processes,
   under a lease that a dead worker's successor takes over (``pools.leases``).
3. ``highseas serve`` runs each lane on its own thread; ``highseas worker --lane`` runs one
   lane or both (each on its own thread), so production can run a worker per lane.
   ``run_periodic_jobs`` runs the lanes once, one after the other, in the calling thread.
4. A job that fails is logged with its traceback and named in ``figures["failed"]``; the others
   still run, and whatever it committed before it failed stays (each of its batches is atomic).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from django.db import close_old_connections, connection, transaction
from django.utils import timezone

from highseas.notify.digest import send_due_digests
from highseas.notify.outbox import deliver_due
from highseas.notify.reminders import send_due_reminders
from highseas.pools import leases
from highseas.pools.recompute import finish_pending_recomputes
from highseas.pools.requests import expire_requests
from highseas.pools.sweep import sweep

log = logging.getLogger("highseas.scheduler")

OWNERSHIP, SLOW, ALL = "ownership", "slow", "all"
LANES = (OWNERSHIP, SLOW)
JOBS = {
    OWNERSHIP: ("recompute", "sweep", "expire_requests", "reminders", "deliveries"),
    SLOW: ("digests",),  # and the registered jobs
}
DELIVERY_INTERVAL = 5.0
PERIOD = timedelta(minutes=1)  # a slow job's due moments: ``now`` floored to it

Action = Callable[[datetime], dict[str, Any]]

# Jobs of the layers above ``pools`` (which this module may not import), registered by their
# app's ``ready()``: name → action(now) returning its figures (empty when it had nothing to do).
SLOW_JOBS: dict[str, Action] = {}


def register_job(name: str, action: Action) -> None:
    """A job of the slow lane: once per minute at most, by one worker at a time."""
    SLOW_JOBS[name] = action


def _sweep_figures(now: datetime, batch_size: int) -> dict[str, Any]:
    report = sweep(now, batch_size=batch_size)
    return {
        "recycled": len(report.recycled),
        "warned": len(report.warned),
        "unfrozen": len(report.unfrozen),
        "sweep_ms": round(report.elapsed_ms, 1),
    }


def _run(job: str, action: Callable[[], dict[str, Any]], figures: dict[str, Any]) -> bool:
    """Run one job (rule 4); False when it failed. Its duration goes to ``figures["ms"]``."""
    started = time.perf_counter()
    try:
        figures.update(action())
        return True
    except Exception:
        log.exception("periodic job %s failed; the other jobs still run", job)
        figures["failed"].append(job)
        if not connection.in_atomic_block:  # a broken connection is reopened for the next job
            connection.close_if_unusable_or_obsolete()
        return False
    finally:
        figures["ms"][job] = round((time.perf_counter() - started) * 1000, 1)


def _run_leased(job: str, action: Action, now: datetime, figures: dict[str, Any]) -> None:
    """Run a slow job if this worker takes its lease for ``now``'s due moment (rule 2);
    otherwise name it in ``figures["skipped"]``."""
    holder = leases.new_holder()
    try:
        taken = leases.take(job, leases.due_moment(now, PERIOD), holder)
    except Exception:
        log.exception("periodic job %s: taking its lease failed", job)
        figures["failed"].append(job)
        return
    if not taken:
        figures["skipped"].append(job)
        return
    done = False
    try:
        with leases.heartbeat(job, holder):
            done = _run(job, partial(action, now), figures)
    finally:
        try:
            took_ms = figures["ms"].get(job, 0.0)
            if not leases.release(job, holder, took_ms=took_ms, failed=not done):
                log.warning("periodic job %s: its lease was taken over while it ran", job)
        except Exception:  # the lease lapses by itself
            log.exception("periodic job %s: releasing its lease failed", job)


def _ownership_jobs(now: datetime, batch_size: int, figures: dict[str, Any]) -> None:
    _run("recompute", lambda: {"recomputed": finish_pending_recomputes()}, figures)
    _run("sweep", lambda: _sweep_figures(now, batch_size), figures)
    _run("expire_requests", lambda: {"expired_requests": expire_requests(now)}, figures)
    _run("reminders", lambda: {"reminders": send_due_reminders(now)}, figures)


def _slow_jobs(now: datetime, figures: dict[str, Any]) -> None:
    _run_leased("digests", lambda moment: {"digests": send_due_digests(moment)}, now, figures)
    for name, action in SLOW_JOBS.items():
        _run_leased(name, action, now, figures)
    if connection.vendor == "sqlite":
        try:
            refresh_statistics()
        except Exception:
            log.exception("PRAGMA optimize failed")


# Rows SQLite's ANALYZE reads per index when the slow lane refreshes the planner's statistics:
# enough for the planner's choices, and a few milliseconds however large the tables.
ANALYSIS_ROWS = 1_000


def refresh_statistics() -> None:
    """SQLite: keep the planner's statistics fresh (``PRAGMA optimize`` analyzes the tables
    this run's queries used whose statistics are missing or stale). It writes, so it runs in a
    write transaction, which on the embedded server takes the write gate after every waiting
    request (``config/sqlite``), and it reads at most ``ANALYSIS_ROWS`` rows per index.
    Unbounded and ungated, the first run on a database of 200,000 customers analyzed them for
    about 300 ms while holding SQLite's write lock, and the claims behind it stalled."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"PRAGMA analysis_limit = {ANALYSIS_ROWS}")
        cursor.execute("PRAGMA optimize")


def run_periodic_jobs(
    now: datetime | None = None, *, batch_size: int = 500, lane: str = ALL
) -> dict[str, Any]:
    """Run the jobs of ``lane`` (or of both) once at ``now``, each on its own: one that crashes
    does not skip the others. The figures hold each job's own, the jobs that failed under
    ``failed``, the slow jobs another worker runs or ran for this minute under ``skipped``,
    and each job's milliseconds under ``ms``. With both lanes, the outbox is drained last, so
    that the digests written in this run go out in it."""
    now = now or timezone.now()
    figures: dict[str, Any] = {"failed": [], "skipped": [], "ms": {}}
    if lane in (OWNERSHIP, ALL):
        _ownership_jobs(now, batch_size, figures)
    if lane in (SLOW, ALL):
        _slow_jobs(now, figures)
    if lane in (OWNERSHIP, ALL):
        _run("deliveries", lambda: {"deliveries": deliver_due(now)}, figures)
    if figures["failed"]:
        log.error("periodic jobs (%s): %s", lane, figures)
    else:
        log.info("periodic jobs (%s): %s", lane, figures)
    return figures


def run_lane(
    lane: str,
    interval: float,
    stop: threading.Event,
    *,
    batch_size: int = 500,
    delivery_interval: float = DELIVERY_INTERVAL,
) -> None:
    """Run one lane's jobs every ``interval`` seconds until ``stop`` is set; the ownership lane
    drains the outbox every ``delivery_interval`` seconds in between. A failing job or run is
    logged and the next one goes ahead."""
    next_jobs = time.monotonic()
    while not stop.is_set():
        close_old_connections()
        due = time.monotonic() >= next_jobs
        try:
            if due:
                next_jobs = time.monotonic() + interval
                run_periodic_jobs(batch_size=batch_size, lane=lane)
            elif lane == OWNERSHIP:
                deliver_due()
        except Exception:
            log.exception("periodic jobs (%s) failed; retrying at the next interval", lane)
        finally:
            connection.close()
        pause = next_jobs - time.monotonic()
        stop.wait(max(0.0, min(delivery_interval, pause) if lane == OWNERSHIP else pause))


# The threads of the jobs: on the embedded server, their SQLite writers yield to the requests'
# (``config/sqlite``), which knows them by this name. On SQLite every batch is one hold of the
# only write lock, so the embedded server sweeps in batches small enough that a claim waiting
# behind one still answers within 200 ms.
JOBS_THREAD = "highseas-jobs"
EMBEDDED_SQLITE_BATCH = 50


def embedded_batch_size() -> int:
    return EMBEDDED_SQLITE_BATCH if connection.vendor == "sqlite" else 500


def start_lanes(
    lanes: tuple[str, ...],
    interval: float,
    stop: threading.Event,
    *,
    batch_size: int = 500,
    delivery_interval: float = DELIVERY_INTERVAL,
) -> list[threading.Thread]:
    """Each lane on its own thread (rule 3), until ``stop`` is set."""
    threads = [
        threading.Thread(
            target=run_lane,
            args=(lane, interval, stop),
            kwargs={"batch_size": batch_size, "delivery_interval": delivery_interval},
            name=JOBS_THREAD,
            daemon=True,
        )
        for lane in lanes
    ]
    for thread in threads:
        thread.start()
    return threads


def run_forever(
    interval: float,
    stop: threading.Event,
    *,
    batch_size: int = 500,
    delivery_interval: float = DELIVERY_INTERVAL,
    lanes: tuple[str, ...] = LANES,
) -> None:
    """Run ``lanes``, each on its own thread, until ``stop`` is set (``highseas worker``); a
    slow job still running then is left to its lease, which lapses."""
    threads = start_lanes(
        lanes, interval, stop, batch_size=batch_size, delivery_interval=delivery_interval
    )
    while not stop.wait(1.0):
        pass
    for thread in threads:
        thread.join(timeout=30)


def start_in_background(interval: float = 60.0) -> threading.Event:
    """Both lanes on their own threads beside the embedded server; set the event to stop."""
    stop = threading.Event()
    start_lanes(LANES, interval, stop, batch_size=embedded_batch_size())
    return stop
