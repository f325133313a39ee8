"""Per-operation latencies and the figures drawn from them."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from django.db import connection

from highseas.accounts.models import User

ClaimOne = Callable[[User, int], object]


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
