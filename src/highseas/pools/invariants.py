"""``highseas check``: the invariants of SPEC §4, verified over the whole database.

1. pooled XOR exactly one owner, and every customer's ledger replays to its current state;
2. no rep claimed more from a pool per day or week than the quota in force now;
3. no rep holds more than their cap, unless a manager's logged override covers them;
4. a customer merged into another rests pooled, without owner or duplicate keys, not merged
   into itself.
Quotas and caps are judged by today's policies: a limit tightened later can flag history,
which the report then names.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from itertools import groupby

from django.db.models import Count, F, Q
from django.db.models.functions import TruncDate, TruncWeek
from django.utils import timezone

from highseas.accounts.models import AuditLog, RepProfile
from highseas.customers.choices import CustomerStage, CustomerStatus
from highseas.customers.models import Customer
from highseas.engine.limits import ClaimLimits, RepOverrides, effective_limits
from highseas.engine.ownership import EventKind, LedgerBreak, OwnershipState, Status, replay
from highseas.pools.ledger import as_ledger_event, iter_ledger_rows
from highseas.pools.models import OwnershipEvent, Pool
from highseas.pools.policies import claim_limits, rep_overrides

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


def _limits_by_rep_and_pool() -> Callable[[int, int | None], ClaimLimits]:
    pools = {pool.pk: claim_limits(pool) for pool in Pool.objects.select_related("claim_policy")}
    reps = {p.user_id: rep_overrides(p) for p in RepProfile.objects.all()}

    def limits(user_id: int, pool_id: int | None) -> ClaimLimits:
        pool = pools.get(pool_id) if pool_id is not None else None
        return effective_limits(pool or ClaimLimits(), reps.get(user_id, RepOverrides()))

    return limits


def check_claim_quotas(report: CheckReport) -> None:
    """No rep claimed more from a pool in a day or a week than the quota now in force."""
    limits = _limits_by_rep_and_pool()
    zone = timezone.get_default_timezone()
    for period, trunc, field_name in (
        ("day", TruncDate, "daily_quota"),
        ("week", TruncWeek, "weekly_quota"),
    ):
        counts = (
            OwnershipEvent.objects.filter(kind=EventKind.CLAIMED.value)
            .annotate(period=trunc("at", tzinfo=zone))
            .values("to_owner_id", "from_pool_id", "period")
            .annotate(claims=Count("id"))
        )
        for row in counts:
            limit = getattr(limits(row["to_owner_id"], row["from_pool_id"]), field_name)
            if limit is not None and row["claims"] > limit:
                report.add(
                    "claim_quota_exceeded",
                    f"rep {row['to_owner_id']} claimed {row['claims']} from pool "
                    f"{row['from_pool_id']} in the {period} of {row['period']:%Y-%m-%d} "
                    f"(quota {limit})",
                )


def check_holding_caps(report: CheckReport) -> None:
    """No rep holds more than the loosest cap of the pools their customers belong to, unless
    a manager's cap override is on record for them."""
    limits = _limits_by_rep_and_pool()
    overridden = {
        int(detail["receiver"])
        for detail in AuditLog.objects.filter(action=AuditLog.Action.CAP_OVERRIDE).values_list(
            "detail", flat=True
        )
        if isinstance(detail, dict) and "receiver" in detail
    }
    held = (
        Customer.objects.filter(status__in=[CustomerStatus.OWNED, CustomerStatus.FROZEN])
        .values("owner_id", "pool_id")
        .annotate(total=Count("id"), won=Count("id", filter=Q(stage=CustomerStage.WON)))
    )
    by_rep: dict[int, list[tuple[ClaimLimits, int, int]]] = {}
    for row in held:
        by_rep.setdefault(row["owner_id"], []).append(
            (limits(row["owner_id"], row["pool_id"]), row["total"], row["won"])
        )
    for owner_id, rows in by_rep.items():
        caps = [lim.holding_cap for lim, _total, _won in rows]
        if owner_id in overridden or any(cap is None for cap in caps):
            continue
        count_won = any(lim.count_won_in_cap for lim, _total, _won in rows)
        holdings = sum(total - (0 if count_won else won) for _lim, total, won in rows)
        cap = max(cap for cap in caps if cap is not None)
        if holdings > cap:
            report.add("holding_cap_exceeded", f"rep {owner_id} holds {holdings} (cap {cap})")


def check_merged(report: CheckReport) -> None:
    """A merged-away customer is a hidden, pooled row (``pools.merge``): it holds no owner,
    so it counts toward no cap; it has no duplicate keys, so nothing matches it; and it does
    not point at itself."""
    merged = Customer.objects.filter(merged_into__isnull=False)
    wrong = merged.filter(
        ~Q(status=CustomerStatus.POOLED)
        | Q(owner__isnull=False)
        | Q(merged_into=F("id"))
        | Q(phone_key__isnull=False)
        | Q(email_key__isnull=False)
        | Q(credit_key__isnull=False)
        | Q(name_key__isnull=False)
    )
    for customer_id in wrong.values_list("id", flat=True):
        report.add("merged_not_pooled", f"customer {customer_id}")


def run_checks() -> CheckReport:
    report = CheckReport()
    check_ownership(report)
    check_claim_quotas(report)
    check_holding_caps(report)
    check_merged(report)
    return report
