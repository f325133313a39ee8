"""What the win model knows of a customer and of a rep, as plain values (no Django).

A customer is described by six dimensions — industry, province, size (employees, bucketed),
revenue band, source and level — and a rep by who they are, their team, their level, their
tenure and their workload (open deals) at the time. The same functions describe a deal of
the past (training) and a customer being routed now (scoring), so the two cannot drift.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

DIMENSIONS = ("industry", "province", "size", "revenue_band", "source", "level")
REP_DIMENSIONS = ("industry", "province", "size", "revenue_band", "source", "level")
TEAM_DIMENSIONS = ("industry", "province")
SIZE_BUCKETS = ((20, "<20"), (100, "20-99"), (500, "100-499"), (2000, "500-1999"))
TENURE_BUCKETS = ((90, "<3m"), (365, "3-12m"), (730, "1-2y"))
WORKLOAD_BUCKETS = ((5, "<5"), (15, "5-14"), (40, "15-39"), (100, "40-99"))


def bucket(value: int | None, buckets: tuple[tuple[int, str], ...], top: str) -> str:
    if value is None:
        return ""
    for limit, name in buckets:
        if value < limit:
            return name
    return top


def customer_values(fields: Mapping[str, object]) -> tuple[str, ...]:
    """The customer's value on each of ``DIMENSIONS`` ("" when unknown)."""
    get = fields.get
    employees = get("employees")
    size = bucket(employees, SIZE_BUCKETS, "2000+") if isinstance(employees, int) else ""
    return (
        str(get("industry") or ""),
        str(get("province") or ""),
        size,
        str(get("revenue_band") or ""),
        str(get("source") or ""),
        str(get("level") or ""),
    )


@dataclass(frozen=True, slots=True)
class RepFacts:
    """A rep as the model sees them at one moment."""

    rep: int
    team: int | None = None
    level: str = ""
    tenure_days: int | None = None
    workload: int | None = None

    def tenure(self) -> str:
        return bucket(self.tenure_days, TENURE_BUCKETS, "2y+")

    def load(self) -> str:
        return bucket(self.workload, WORKLOAD_BUCKETS, "100+")


@dataclass(frozen=True, slots=True)
class Example:
    """A decided deal: who owned it, the customer, whether it was won, and when it was decided."""

    rep: RepFacts
    customer: tuple[str, ...]  # customer_values()
    won: bool
    at: datetime
