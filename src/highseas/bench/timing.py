"""Per-operation latencies and the figures drawn from them."""

from __future__ import annotations

import statistics
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import connection, connections

from highseas.accounts.models import User
from highseas.customers.choices import CustomerStatus
from highseas.customers.models import Customer
from highseas.engine.errors import HighSeasError
from highseas.pools import ownership
from highseas.pools.models import Pool

ClaimOne = Callable[[User, int], object]
CLAIMER_TARGETS = 20_000  # the newest pooled customers a claimer takes, at most
STALL_SECONDS = 0.2  # a claim that waits longer stalled (issue "rush hour": none over 200 ms)


@dataclass
class Timings:
    """The latencies of one path's operations, and the wall time its timed loops took."""

    path: str
    latencies: list[float] = field(default_factory=list)
    elapsed: float = 0.0

    @property
    def count(self) -> int:
        return len(self.latencies)

    @property
    def per_second(self) -> float:
        return self.count / self.elapsed if self.elapsed else 0.0

    def percentile_ms(self, percent: int) -> float:
        """The ``percent``-th percentile latency in milliseconds (inclusive method)."""
        if self.count == 1:
            return self.latencies[0] * 1000
        cuts = statistics.quantiles(self.latencies, n=100, method="inclusive")
        return cuts[percent - 1] * 1000

    def figure(self) -> dict[str, float | int | str]:
        return {
            "path": self.path,
            "claims": self.count,
            "per_second": round(self.per_second, 1),
            "p50_ms": round(self.percentile_ms(50), 3),
            "p99_ms": round(self.percentile_ms(99), 3),
        }


def time_claims(
    timings: Timings,
    claim_one: ClaimOne,
    reps: Sequence[User],
    customer_ids: Sequence[int],
    offset: int,
) -> None:
    """Claim each customer in turn, reps taken round-robin from ``offset``; record each
    claim's latency and the loop's wall time."""
    clock = time.perf_counter
    latencies = timings.latencies
    started = clock()
    for position, customer_id in enumerate(customer_ids, start=offset):
        before = clock()
        claim_one(reps[position % len(reps)], customer_id)
        latencies.append(clock() - before)
    timings.elapsed += clock() - started


def wal_position() -> str | None:
    """Where PostgreSQL's write-ahead log is being written now (``None`` elsewhere)."""
    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_current_wal_insert_lsn()::text")
        return str(cursor.fetchone()[0])


def wal_bytes_since(position: str | None) -> int | None:
    """Bytes of write-ahead log written since ``position`` (``wal_position``)."""
    if position is None:
        return None
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_wal_lsn_diff(pg_current_wal_insert_lsn(), %s::pg_lsn)", [position]
        )
        return int(cursor.fetchone()[0])


class Claimer:
    """Reps claiming the pool's newest pooled customers (those a run reaches last) at a
    steady rate on a thread of their own, each claim timed, until stopped (an assignment
    run's bench, and an import's)."""

    def __init__(self, pool: Pool, reps: Sequence[User], per_second: float) -> None:
        self.reps = list(reps)
        self.interval = 1 / per_second
        self.targets = list(
            Customer.objects.filter(pool=pool, status=CustomerStatus.POOLED)
            .order_by("-pk")
            .values_list("pk", flat=True)[:CLAIMER_TARGETS]
        )
        self.seconds: list[float] = []
        self.outcomes: dict[str, int] = defaultdict(int)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._claim, name="bench-claimer", daemon=True)

    def __enter__(self) -> Claimer:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _claim(self) -> None:
        try:
            started = time.perf_counter()
            for index, customer_id in enumerate(self.targets):
                wait = started + index * self.interval - time.perf_counter()
                if self._stop.wait(max(wait, 0.0)):
                    return
                began = time.perf_counter()
                try:
                    ownership.claim(self.reps[index % len(self.reps)], customer_id)
                    outcome = "claimed"
                except HighSeasError as refusal:  # taken by the run first, say
                    outcome = refusal.code.value
                except Exception as error:  # counted and shown: a failed claim is a finding
                    outcome = type(error).__name__
                self.seconds.append(time.perf_counter() - began)
                self.outcomes[outcome] += 1
        finally:
            connections.close_all()

    def figure(self) -> dict[str, Any]:
        timings = Timings("claims_meanwhile", self.seconds)

        def at(percent: int) -> float | None:
            return round(timings.percentile_ms(percent), 1) if timings.count else None

        return {
            "claims": timings.count,
            "claim_outcomes": dict(self.outcomes),
            "claim_p50_ms": at(50),
            "claim_p95_ms": at(95),
            "claim_p99_ms": at(99),
            "claim_max_ms": round(1000 * max(self.seconds), 1) if self.seconds else None,
            "claims_over_200_ms": sum(1 for seconds in self.seconds if seconds > STALL_SECONDS),
        }
