"""One worker at a time for a slow-lane periodic job, across threads and processes
(``pools.scheduler``), on SQLite and PostgreSQL alike: a lease row per job (``JobLease``).

1. A job is due once per moment of its period (``due_moment``: ``now`` floored to it, so every
   worker computes the same moment). ``take`` claims the job for that moment by one
   compare-and-set UPDATE: the row is free and was last taken for an earlier moment, or its
   lease ran out (the worker holding it died, so the job is taken over, even for the same
   moment, never for an earlier one). Zero rows: another worker runs it or already ran it, or
   ran a later moment (a worker whose slow lane spent minutes on the jobs before this one
   comes late with its old ``now``); the caller skips it.
2. The lease lasts ``LEASE`` of wall-clock time (not the job's ``now``, which may be a chosen
   moment) and is renewed every ``LEASE / 3`` by a heartbeat thread while the job runs, so a
   run of any length keeps it and a killed worker's lease lapses within ``LEASE``.
3. ``release`` frees the row only when this run still holds it, recording when the run ended,
   how long it took and whether it failed.
The row is written on first use; the job itself keeps its own safety (compare-and-set per row
or per day), so a run taken over after a stall repeats nothing.

Chosen over PostgreSQL's advisory locks: the row works the same on SQLite, holds through a
transaction-pooling pgbouncer, remembers the due moment (a second worker arriving after the
first finished does not run the job again) and shows each job's last run to an operator.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

from django.db import connection
from django.db.models import Q
from django.utils import timezone

from highseas.pools.models import JobLease

log = logging.getLogger("highseas.scheduler")

LEASE = timedelta(minutes=2)


def clock() -> datetime:
    """The wall clock the leases run on (a test moves it to let a lease lapse)."""
    return timezone.now()


def due_moment(now: datetime, every: timedelta) -> datetime:
    seconds = every.total_seconds()
    return datetime.fromtimestamp(now.timestamp() // seconds * seconds, tz=UTC)


def new_holder() -> str:
    thread = threading.current_thread().name
    return f"{socket.gethostname()}:{os.getpid()}:{thread}:{uuid.uuid4().hex[:8]}"


def take(name: str, due: datetime, holder: str) -> bool:
    """Claim ``name`` for ``due`` (step 1); True when this holder now runs it."""
    wall = clock()
    not_later = Q(due__isnull=True) | Q(due__lte=due)
    free = Q(expires_at__isnull=True) & (Q(due__isnull=True) | Q(due__lt=due))
    lapsed = Q(expires_at__lte=wall) & not_later
    for _attempt in range(2):
        taken = JobLease.objects.filter(Q(name=name) & (free | lapsed)).update(
            holder=holder, due=due, expires_at=wall + LEASE, started_at=wall
        )
        if taken:
            return True
        if JobLease.objects.filter(name=name).exists():
            return False
        JobLease.objects.bulk_create([JobLease(name=name)], ignore_conflicts=True)
    return False


def take_from_the_dead(name: str, due: datetime, holder: str) -> bool:
    """Claim ``name`` from a holder that was a process of this host and has died (a killed
    command restarted at once need not wait ``LEASE`` for its own lease to lapse); True when
    this holder now runs it. A holder on another host is left to lapse."""
    held = JobLease.objects.filter(name=name).values_list("holder", flat=True).first()
    if not held or not _dead_here(held):
        return False
    wall = clock()
    return bool(
        JobLease.objects.filter(name=name, holder=held).update(
            holder=holder, due=due, expires_at=wall + LEASE, started_at=wall
        )
    )


def _dead_here(holder: str) -> bool:
    host, _, rest = holder.partition(":")
    pid = rest.partition(":")[0]
    if host != socket.gethostname() or not pid.isdigit() or int(pid) == os.getpid():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def renew(name: str, holder: str) -> bool:
    return bool(
        JobLease.objects.filter(name=name, holder=holder).update(expires_at=clock() + LEASE)
    )


def release(name: str, holder: str, *, took_ms: float, failed: bool) -> bool:
    return bool(
        JobLease.objects.filter(name=name, holder=holder).update(
            holder="", expires_at=None, finished_at=clock(), last_ms=took_ms, last_failed=failed
        )
    )


HEARTBEAT_PREFIX = "lease-"  # a heartbeat thread's name: the lease's after it
# Held by a heartbeat from opening its database connection to closing it, and by a thread of
# this process forking it (``intake.preparing``). A forked child has only the forking thread:
# the heartbeat's thread state is cleared there, and with it any connection it held, whose
# closing would say goodbye to the server on the socket the parent still uses (on SQLite,
# would end locks the child never held). So a heartbeat holds no connection at a fork.
FORK_GUARD = threading.Lock()


def _keep_renewing(name: str, holder: str, done: threading.Event) -> None:
    while not done.wait(LEASE.total_seconds() / 3):
        with FORK_GUARD:
            try:
                if not renew(name, holder):
                    log.warning("periodic job %s: its lease was taken over while it ran", name)
                    return
            except Exception:
                log.exception("periodic job %s: renewing its lease failed", name)
            finally:
                try:  # once every LEASE / 3: a connection is cheap at that rate
                    connection.close()
                except Exception:
                    log.exception("periodic job %s: closing its connection failed", name)


@contextmanager
def heartbeat(name: str, holder: str) -> Iterator[None]:
    """Renew the lease every ``LEASE / 3`` while the block runs (step 2)."""
    done = threading.Event()
    beat = threading.Thread(
        target=_keep_renewing,
        args=(name, holder, done),
        name=f"{HEARTBEAT_PREFIX}{name}",
        daemon=True,
    )
    beat.start()
    try:
        yield
    finally:
        done.set()
        beat.join(timeout=30)


@contextmanager
def held(name: str, due: datetime, *, from_the_dead: bool = False) -> Iterator[bool]:
    """Take ``name`` for ``due`` (also from a dead holder of this host, ``from_the_dead``),
    keep it renewed while the block runs and release it after, recording how long it took and
    whether it failed; yields whether it was taken (the block runs either way)."""
    holder, started = new_holder(), time.monotonic()
    if not (take(name, due, holder) or (from_the_dead and take_from_the_dead(name, due, holder))):
        yield False
        return
    failed = True
    try:
        with heartbeat(name, holder):
            yield True
        failed = False
    finally:
        release(name, holder, took_ms=(time.monotonic() - started) * 1000, failed=failed)
