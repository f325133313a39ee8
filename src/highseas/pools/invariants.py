"""``highseas check``: the invariants of SPEC §4, verified over the whole database.

1. pooled XOR exactly one owner, and every customer's ledger replays to its current state;
2. no claim went past the daily or weekly quota in force when it was made (the quotas its
   ledger row recorded; today's, tier included, for older rows);
3. no rep holds more than their cap (the pool's, scaled by the rep's performance tier where
   the pool's plan is on, ``insights.limits``), unless a manager's logged override covers
   them or the cap was tightened after the rep's last gain (``check_holding_caps``);
4. a customer merged into another rests pooled, without owner or duplicate keys, not merged
   into itself;
5. every stored ``recycle_due_at`` / ``warn_at`` equals what the engine computes now
   (``pools.schedule_check``);
6. no customer is owned by an inactive user (``owner_inactive``);
7. every assignment decision names a run, a customer, and (when it names them) a rule and an
   owner that exist (``decision_dangling``): the decision log, written a row per customer a
   run routes, has no foreign-key constraints in the database (their checks at commit cost a
   run on PostgreSQL more than writing the rows), so Django's deletion collector keeps it
   whole (cascade, set null, protect) and this check says where something went around it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from itertools import groupby
from typing import Any

from django.db.models import Count, Exists, F, OuterRef, Q
from django.utils import timezone

from highseas.accounts.models import AuditLog, RepProfile, User
from highseas.customers.choices import CustomerStage, CustomerStatus
from highseas.customers.models import Customer
from highseas.engine.limits import ClaimLimits, RepOverrides, effective_limits
from highseas.engine.ownership import EventKind, LedgerBreak, OwnershipState, Status, replay
from highseas.engine.periods import day_start, week_start
from highseas.insights.models import RepLimitFactor
from highseas.pools.ledger import as_ledger_event, iter_ledger_rows
from highseas.pools.models import OwnershipEvent, Pool
from highseas.pools.policies import claim_limits, rep_overrides
from highseas.pools.quotas import TIER_FIELDS, Quotas, recorded_quotas, tiered_limits
from highseas.pools.schedule_check import check_schedules
from highseas.routing.models import AssignmentDecision, AssignmentRule, AssignmentRun

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


def _tier_factors() -> dict[tuple[int, int], tuple[Any, ...]]:
    """Per (pool, rep) with a performance-linked plan on: the rep's multiplier and the plan's
    ceilings, as the claim path reads them (``pools.quotas.performance_limits``). One query."""
    rows = RepLimitFactor.objects.filter(pool__limit_plan__is_active=True).values_list(
        "pool_id", "rep_id", "multiplier", *(f"pool__limit_plan__{name}" for name in TIER_FIELDS)
    )
    return {(pool, rep): tuple(rest) for pool, rep, *rest in rows}


def _limits_by_rep_and_pool() -> Callable[[int, int | None], ClaimLimits]:
    """The limits in force now for a rep in a pool: the pool's, scaled by the rep's
    performance tier where the pool's plan is on, then tightened by the rep's overrides."""
    pools = {pool.pk: claim_limits(pool) for pool in Pool.objects.select_related("claim_policy")}
    reps = {p.user_id: rep_overrides(p) for p in RepProfile.objects.all()}
    tiers = _tier_factors()

    def limits(user_id: int, pool_id: int | None) -> ClaimLimits:
        if pool_id is None:
            return effective_limits(ClaimLimits(), reps.get(user_id, RepOverrides()))
        pool = pools.get(pool_id)
        if pool is not None and (factor := tiers.get((pool_id, user_id))) is not None:
            pool = tiered_limits(pool, *factor)
        return effective_limits(pool or ClaimLimits(), reps.get(user_id, RepOverrides()))

    return limits


def _claims() -> Iterator[tuple[int, int | None, datetime, str]]:
    """Every claim as (rep, pool, at, policy_ref), by rep, pool, then time; streamed."""
    return (
        OwnershipEvent.objects.filter(kind=EventKind.CLAIMED.value)
        .order_by("to_owner_id", "from_pool_id", "at", "id")
        .values_list("to_owner_id", "from_pool_id", "at", "policy_ref")
        .iterator(chunk_size=20_000)
    )


def check_claim_quotas(report: CheckReport) -> None:
    """No claim went past the daily or weekly quota in force when it was made.

    1. claims are walked by rep and pool in time order, counted per day and per week on the
       organization's calendar (``engine.periods``), like the claim rule counts them;
    2. the n-th claim of a period breaks the quota when n exceeds the quota its ledger row
       recorded (``pools.quotas.quota_ref``); a row that recorded none is judged by the
       quotas in force now;
    3. one problem per rep, pool and period in which a claim broke its quota.
    """
    limits = _limits_by_rep_and_pool()
    zone = timezone.get_default_timezone()
    for (rep, pool), claims in groupby(_claims(), key=lambda claim: claim[:2]):
        counts: dict[str, tuple[datetime, int]] = {}
        reported: set[tuple[str, datetime]] = set()
        for _rep, _pool, at, policy_ref in claims:
            recorded = recorded_quotas(policy_ref)
            if recorded is None:
                now_in_force = limits(rep, pool)
                recorded = Quotas(now_in_force.daily_quota, now_in_force.weekly_quota)
            for period, start, quota in (
                ("day", day_start(at, zone), recorded.daily),
                ("week", week_start(at, zone), recorded.weekly),
            ):
                since, count = counts.get(period, (start, 0))
                count = count + 1 if since == start else 1
                counts[period] = (start, count)
                if quota is not None and count > quota and (period, start) not in reported:
                    reported.add((period, start))
                    report.add(
                        "claim_quota_exceeded",
                        f"rep {rep} made claim {count} from pool {pool} in the {period} of "
                        f"{start:%Y-%m-%d} (quota {quota} then)",
                    )


GAINS = (EventKind.CREATED, EventKind.CLAIMED, EventKind.ASSIGNED, EventKind.TRANSFERRED)


def _last_gain(owner_id: int) -> datetime | None:
    """When the rep last came to own a customer (created as theirs, claimed, assigned,
    transferred to them)."""
    gains = OwnershipEvent.objects.filter(
        to_owner_id=owner_id, kind__in=[kind.value for kind in GAINS]
    ).exclude(from_owner_id=owner_id)
    return gains.order_by("-at").values_list("at", flat=True).first()


def _claim_policy(side: object) -> dict[str, Any]:
    policy = side.get("claim_policy") if isinstance(side, dict) else None
    return policy if isinstance(policy, dict) else {}


def _tightened(change: dict[str, Any]) -> bool:
    """Whether a recorded policy change lowered the holding cap or began counting won
    customers in it."""
    before, after = _claim_policy(change.get("before")), _claim_policy(change.get("after"))
    old_cap, new_cap = before.get("holding_cap"), after.get("holding_cap")
    lowered = new_cap is not None and (old_cap is None or new_cap < old_cap)
    return lowered or bool(after.get("count_won_in_cap") and not before.get("count_won_in_cap"))


def _cap_tightened_since(pool_ids: set[int], moment: datetime | None) -> bool:
    """Whether an admin tightened the cap of one of these pools after ``moment`` (every
    policy change is an audit row with the policies before and after, ``save_pool``)."""
    changes = AuditLog.objects.filter(
        action=AuditLog.Action.POLICY_CHANGE,
        target_type="pool",
        target_id__in=[str(pool_id) for pool_id in pool_ids],
    )
    if moment is not None:
        changes = changes.filter(at__gt=moment)
    return any(
        _tightened(detail)
        for detail in changes.values_list("detail", flat=True)
        if isinstance(detail, dict)
    )


def check_holding_caps(report: CheckReport) -> None:
    """No rep holds more than the loosest cap of the pools their customers belong to, unless
    a manager's cap override is on record for them, or an admin tightened one of those caps
    after the rep's last gain: then the excess came from the new policy, not from a claim or
    an assignment past the cap (a tightened cap takes nobody's customers away; the rep gains
    none until under it). Only the reps above today's cap are looked at more closely."""
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
    by_rep: dict[int, list[tuple[int, ClaimLimits, int, int]]] = {}
    for row in held:
        by_rep.setdefault(row["owner_id"], []).append(
            (row["pool_id"], limits(row["owner_id"], row["pool_id"]), row["total"], row["won"])
        )
    for owner_id, rows in by_rep.items():
        caps = [lim.holding_cap for _pool, lim, _total, _won in rows]
        if owner_id in overridden or any(cap is None for cap in caps):
            continue
        count_won = any(lim.count_won_in_cap for _pool, lim, _total, _won in rows)
        holdings = sum(total - (0 if count_won else won) for _pool, _lim, total, won in rows)
        cap = max(cap for cap in caps if cap is not None)
        if holdings <= cap:
            continue
        pools = {pool_id for pool_id, *_ in rows if pool_id is not None}
        if _cap_tightened_since(pools, _last_gain(owner_id)):
            continue
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


def check_owners_active(report: CheckReport) -> None:
    """No customer rests with an inactive user: a departing rep is handed over first."""
    stranded = Customer.objects.filter(owner__is_active=False, merged_into__isnull=True)
    for customer_id, owner_id in stranded.values_list("id", "owner_id"):
        report.add("owner_inactive", f"customer {customer_id} (user {owner_id})")


def check_decision_log(report: CheckReport) -> None:
    """Every assignment decision names rows that exist (see the module, 7): one anti-join a
    reference, which the database runs as one pass over each table (an ``OR`` of them would
    be a lookup a decision and reference)."""
    references: list[tuple[Any, str]] = [
        (AssignmentRun, "run_id"),
        (Customer, "customer_id"),
        (AssignmentRule, "rule_id"),
        (User, "owner_id"),
    ]
    dangling: dict[int, tuple[int, int]] = {}
    for model, column in references:
        gone = AssignmentDecision.objects.filter(**{f"{column}__isnull": False}).exclude(
            Exists(model.objects.filter(pk=OuterRef(column)))
        )
        for decision_id, run_id, customer_id in gone.values_list("pk", "run_id", "customer_id"):
            dangling[decision_id] = (run_id, customer_id)
    for decision_id, (run_id, customer_id) in sorted(dangling.items()):
        report.add(
            "decision_dangling", f"decision {decision_id} (run {run_id}, customer {customer_id})"
        )


def run_checks(now: datetime | None = None) -> CheckReport:
    report = CheckReport()
    check_ownership(report)
    check_schedules(report.add, now or timezone.now())
    check_claim_quotas(report)
    check_holding_caps(report)
    check_merged(report)
    check_owners_active(report)
    check_decision_log(report)
    return report
