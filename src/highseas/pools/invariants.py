"""``highseas check``: the invariants of SPEC §4, verified over the whole database."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import groupby

from django.db.models import Q

from highseas.customers.choices import CustomerStatus
from highseas.customers.models import Customer
from highseas.engine.ownership import LedgerBreak, OwnershipState, Status, replay
from highseas.pools.ledger import as_ledger_event, iter_ledger_rows

EXAMPLES_KEPT = 20


@dataclass
class CheckReport:
    customers: int = 0
    events: int = 0
    problems: dict[str, int] = field(default_factory=dict)
    examples: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def add(self, kind: str, example: str) -> None:
        self.problems[kind] = self.problems.get(kind, 0) + 1
        if len(self.examples) < EXAMPLES_KEPT:
            self.examples.append(f"{kind}: {example}")


def _inconsistent_rows() -> Q:
    pooled = Q(status=CustomerStatus.POOLED) & (Q(owner__isnull=False) | Q(pool__isnull=True))
    owned = Q(status__in=[CustomerStatus.OWNED, CustomerStatus.FROZEN], owner__isnull=True)
    unknown = ~Q(status__in=CustomerStatus.values)
    return pooled | owned | unknown


def _current_states() -> Iterator[tuple[int, OwnershipState | None]]:
    rows = Customer.objects.order_by("id").values_list("id", "status", "owner_id", "pool_id")
    for customer_id, status, owner_id, pool_id in rows.iterator(chunk_size=20_000):
        state = (
            OwnershipState(Status(status), owner_id, pool_id)
            if status in Status._value2member_map_
            else None
        )
        yield customer_id, state


def check_ownership(report: CheckReport) -> None:
    """Pooled XOR one owner, and the ledger of every customer replays to its current state."""
    for customer_id in Customer.objects.filter(_inconsistent_rows()).values_list("id", flat=True):
        report.add("pooled_xor_owned", f"customer {customer_id}")
    ledgers = groupby(iter_ledger_rows(), key=lambda row: row[1])
    next_ledger = next(ledgers, None)
    for customer_id, current in _current_states():
        report.customers += 1
        while next_ledger is not None and next_ledger[0] < customer_id:
            report.add("orphan_ledger", f"events for missing customer {next_ledger[0]}")
            next_ledger = next(ledgers, None)
        if next_ledger is None or next_ledger[0] != customer_id:
            report.add("ledger_missing", f"customer {customer_id} has no ledger")
            continue
        events = [as_ledger_event(row) for row in next_ledger[1]]
        report.events += len(events)
        next_ledger = next(ledgers, None)
        try:
            replayed = replay(events)
        except LedgerBreak as exc:
            report.add("ledger_broken", f"customer {customer_id}: {exc}")
            continue
        if replayed != current:
            report.add(
                "ledger_mismatch",
                f"customer {customer_id}: ledger says {replayed}, row says {current}",
            )


def run_checks() -> CheckReport:
    report = CheckReport()
    check_ownership(report)
    return report
