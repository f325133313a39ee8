"""Requests in flight in this process, and a long job that gives way to them.

On the embedded server the scheduler's threads (``highseas-jobs``) share one interpreter with
the threads that answer requests, and CPython runs one thread's Python at a time. A job that
computes for minutes (the daily re-evaluation of every customer's level: over a million
customers, pure Python) took the interpreter back after each read and write of every request:
claims over HTTP while it ran had a p99 of 372 ms and a longest wait of 793 ms, against 152 ms
and 174 ms without it (``highseas bench http``, 1,000,000 customers, 32 clients, the same
database). So:

1. ``InFlight``, the first middleware, counts the requests this process is answering and
   notes when the last one ended;
2. a long job calls a ``Slices`` between its items: after ``SLICE_S`` of work it gives way
   (``give_way``): on a jobs' thread, while a request is in flight or one ended less than
   ``QUIET_S`` ago, it sleeps ``STEP_S`` at a time, for at most ``LONGEST_S`` at once, so
   that under a rush that never pauses the job still advances (one slice per ``LONGEST_S``,
   about 5 % of its pace alone) and runs at full pace once the rush is over;
3. anywhere else it returns at once: on a request's thread, and in ``highseas worker`` or a
   command, whose process answers no requests (its count stays at zero).

Writes are handed over by the SQLite write gate (``config.sqlite``); this is the CPU's side.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from highseas.config.sqlite.base import JOBS_THREAD

SLICE_S = 0.005
STEP_S = 0.01
LONGEST_S = 0.1
QUIET_S = 0.05


class _Traffic:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.in_flight = 0
        self.last_end = float("-inf")

    def busy(self) -> bool:
        with self.lock:
            return self.in_flight > 0 or time.monotonic() - self.last_end < QUIET_S


TRAFFIC = _Traffic()


class InFlight:
    """Middleware: counts the request while it is answered (rule 1)."""

    def __init__(self, get_response: Callable[[Any], Any]) -> None:
        self.get_response = get_response

    def __call__(self, request: Any) -> Any:
        with TRAFFIC.lock:
            TRAFFIC.in_flight += 1
        try:
            return self.get_response(request)
        finally:
            with TRAFFIC.lock:
                TRAFFIC.in_flight -= 1
                TRAFFIC.last_end = time.monotonic()


def give_way() -> float:
    """Rule 2 on a jobs' thread, rule 3 elsewhere; the seconds it slept."""
    if threading.current_thread().name != JOBS_THREAD or not TRAFFIC.busy():
        return 0.0
    started = time.monotonic()
    while True:
        time.sleep(STEP_S)
        slept = time.monotonic() - started
        if slept >= LONGEST_S or not TRAFFIC.busy():
            return slept


class Slices:
    """Call between a long job's items: every ``SLICE_S`` of work it gives way (rule 2)."""

    def __init__(self) -> None:
        self._since = time.perf_counter()

    def __call__(self) -> None:
        if time.perf_counter() - self._since >= SLICE_S:
            give_way()
            self._since = time.perf_counter()
