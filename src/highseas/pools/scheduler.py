"""Periodic jobs: expire claim requests, sweep, remind. ``highseas serve`` runs them on a
background thread (embedded default); ``highseas worker`` runs them for scale-out."""

from __future__ import annotations

import logging
import threading
from datetime import datetime
from typing import Any

from django.db import close_old_connections, connection
from django.utils import timezone

from highseas.notify.reminders import send_due_reminders
from highseas.pools.requests import expire_requests
from highseas.pools.sweep import sweep

log = logging.getLogger("highseas.scheduler")


def run_periodic_jobs(now: datetime | None = None) -> dict[str, Any]:
    now = now or timezone.now()
    report = sweep(now)
    figures = {
        "expired_requests": expire_requests(now),
        "recycled": len(report.recycled),
        "warned": len(report.warned),
        "unfrozen": len(report.unfrozen),
        "reminders": send_due_reminders(now),
        "sweep_ms": round(report.elapsed_ms, 1),
    }
    if connection.vendor == "sqlite":  # keep the planner's statistics fresh (cheap, incremental)
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA optimize")
    log.info("periodic jobs: %s", figures)
    return figures


def run_forever(interval: float, stop: threading.Event) -> None:
    """Run the jobs every ``interval`` seconds until ``stop`` is set; a failing run is logged
    and the next one goes ahead."""
    while not stop.is_set():
        close_old_connections()
        try:
            run_periodic_jobs()
        except Exception:
            log.exception("periodic jobs failed; retrying at the next interval")
        finally:
            connection.close()
        stop.wait(interval)


def start_in_background(interval: float = 60.0) -> threading.Event:
    stop = threading.Event()
    thread = threading.Thread(
        target=run_forever, args=(interval, stop), name="highseas-jobs", daemon=True
    )
    thread.start()
    return stop
