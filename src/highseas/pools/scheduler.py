"""Periodic jobs: expire claim requests, sweep, remind, deliver. ``highseas serve`` runs them
on a background thread (embedded default); ``highseas worker`` runs them for scale-out.
Between two runs of the jobs the outbox of e-mail and webhook deliveries is drained every
``DELIVERY_INTERVAL`` seconds, so a notification goes out soon after it was written."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime
from functools import partial
from typing import Any

from django.db import close_old_connections, connection
from django.utils import timezone

from highseas.notify.digest import send_due_digests
from highseas.notify.outbox import deliver_due
from highseas.notify.reminders import send_due_reminders
from highseas.pools.requests import expire_requests
from highseas.pools.sweep import sweep

log = logging.getLogger("highseas.scheduler")

JOBS = ("sweep", "expire_requests", "reminders", "digests", "deliveries")
DELIVERY_INTERVAL = 5.0

# Jobs of the layers above ``pools`` (which this module may not import), registered by their
# app's ``ready()``: name → action(now) returning its figures (empty when it had nothing to do).
LATER_JOBS: dict[str, Callable[[datetime], dict[str, Any]]] = {}


def register_job(name: str, action: Callable[[datetime], dict[str, Any]]) -> None:
    LATER_JOBS[name] = action


def _sweep_figures(now: datetime, batch_size: int) -> dict[str, Any]:
    report = sweep(now, batch_size=batch_size)
    return {
        "recycled": len(report.recycled),
        "warned": len(report.warned),
        "unfrozen": len(report.unfrozen),
        "sweep_ms": round(report.elapsed_ms, 1),
    }


def _run(job: str, action: Callable[[], dict[str, Any]], figures: dict[str, Any]) -> None:
    """Run one job; a failure is logged with its traceback and named in ``figures["failed"]``,
    and whatever the job committed before it failed stays (each of its batches is atomic)."""
    try:
        figures.update(action())
    except Exception:
        log.exception("periodic job %s failed; the other jobs still run", job)
        figures["failed"].append(job)
        if not connection.in_atomic_block:  # a broken connection is reopened for the next job
            connection.close_if_unusable_or_obsolete()


def run_periodic_jobs(now: datetime | None = None, *, batch_size: int = 500) -> dict[str, Any]:
    """Sweep, expire claim requests and send reminders at ``now``, each on its own: one that
    crashes does not skip the others. The figures hold each job that succeeded and list the
    jobs that failed under ``failed`` (empty when all went well)."""
    now = now or timezone.now()
    figures: dict[str, Any] = {"failed": []}
    _run("sweep", lambda: _sweep_figures(now, batch_size), figures)
    _run("expire_requests", lambda: {"expired_requests": expire_requests(now)}, figures)
    _run("reminders", lambda: {"reminders": send_due_reminders(now)}, figures)
    _run("digests", lambda: {"digests": send_due_digests(now)}, figures)
    for name, action in LATER_JOBS.items():
        _run(name, partial(action, now), figures)
    _run("deliveries", lambda: {"deliveries": deliver_due(now)}, figures)
    if connection.vendor == "sqlite":  # keep the planner's statistics fresh (cheap, incremental)
        try:
            with connection.cursor() as cursor:
                cursor.execute("PRAGMA optimize")
        except Exception:
            log.exception("PRAGMA optimize failed")
    if figures["failed"]:
        log.error("periodic jobs: %s", figures)
    else:
        log.info("periodic jobs: %s", figures)
    return figures


def run_forever(
    interval: float,
    stop: threading.Event,
    *,
    batch_size: int = 500,
    delivery_interval: float = DELIVERY_INTERVAL,
) -> None:
    """Run the jobs every ``interval`` seconds until ``stop`` is set, draining the outbox
    every ``delivery_interval`` seconds in between; a failing job or run is logged and the
    next one goes ahead."""
    next_jobs = time.monotonic()
    while not stop.is_set():
        close_old_connections()
        due = time.monotonic() >= next_jobs
        try:
            if due:
                next_jobs = time.monotonic() + interval
                run_periodic_jobs(batch_size=batch_size)
            else:
                deliver_due()
        except Exception:
            log.exception("periodic jobs failed; retrying at the next interval")
        finally:
            connection.close()
        stop.wait(max(0.0, min(delivery_interval, next_jobs - time.monotonic())))


# The thread of the embedded server's jobs: its SQLite writers yield to the requests'
# (``config/sqlite``). On SQLite every batch is one hold of the only write lock, so the
# embedded server sweeps in batches small enough that a claim waiting behind one still
# answers within 200 ms.
JOBS_THREAD = "highseas-jobs"
EMBEDDED_SQLITE_BATCH = 50


def embedded_batch_size() -> int:
    return EMBEDDED_SQLITE_BATCH if connection.vendor == "sqlite" else 500


def start_in_background(interval: float = 60.0) -> threading.Event:
    stop = threading.Event()
    thread = threading.Thread(
        target=run_forever,
        args=(interval, stop),
        kwargs={"batch_size": embedded_batch_size()},
        name=JOBS_THREAD,
        daemon=True,
    )
    thread.start()
    return stop
