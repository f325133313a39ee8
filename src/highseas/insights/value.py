"""Customer value: a score from won-deal history and potential mapped to level A/B/C (SPEC §9,
§10 ``POST /api/v1/insights/rescore/``).

1. The score is ``engine.insights.value_score`` over the customer's deals won in the window
   before ``now`` (any owner's deals count: it is the customer's history) plus its potential
   (employees, revenue band, the organization's weight for its industry).
2. The organization's settings (``ValueSettings``, one row; without it the
   ``HIGHSEAS_VALUE_*`` settings, then the engine's defaults) give the thresholds, the window,
   the monetary half-point, the points potential may add, the industry weights and how often
   the scheduler re-evaluates.
3. A level locked by hand (``LevelLock``) is never changed by a re-evaluation, on demand or on
   schedule; only unlocking hands the customer back to the score.
4. Who may rescore or lock: admins (every customer) and managers (the customers held by their
   team subtree, and for a lock any customer they may edit); reps are refused.
5. Each level change is a ``LevelChange`` row with its reason (the figures it was scored on),
   an audit row with before and after, and a recomputed recycle schedule, in the change's
   transaction. On demand, changes go through the customer edit service
   (``pools.editing.edit_customer``, which checks the viewer again on the locked row); on
   schedule, set-based with the actor ``system:rescore``: per bounded batch, one transaction
   that locks the rows, drops those that moved on, and writes every level with its
   recomputed schedule in one compare-and-set ``UPDATE`` on the level read
   (``pools.set_update``), the audit and ``LevelChange`` rows as plain rows in one insert
   each (``pools.rows.insert_rows``). A batch
   that lost a race anyway (no row locks) is redone change by change. A dry run writes
   nothing.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Exists, Max, OuterRef, QuerySet, Sum
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from highseas.accounts.models import AuditLog
from highseas.accounts.visibility import Viewer
from highseas.config.traffic import Slices
from highseas.customers.choices import CustomerLevel, CustomerStage, CustomerStatus, DealStage
from highseas.customers.models import Customer, Deal
from highseas.engine.errors import ErrorCode, HighSeasError
from highseas.engine.insights import (
    DEFAULT_POTENTIAL_POINTS,
    DEFAULT_THRESHOLDS,
    Potential,
    WinHistory,
    level_for,
    value_score,
)
from highseas.engine.ownership import Status
from highseas.engine.recycle import CustomerClock, Schedule, schedule
from highseas.insights.models import LevelChange, LevelLock, ValueSettings
from highseas.pools import nightly
from highseas.pools.editing import edit_customer, may_edit
from highseas.pools.models import Pool
from highseas.pools.policies import recycle_rules
from highseas.pools.rows import db_datetime, db_json, db_time, insert_rows
from highseas.pools.schedule import leave_pauses, won_until
from highseas.pools.set_update import update_rows

HELD = (CustomerStatus.OWNED, CustomerStatus.FROZEN)
SYSTEM_ACTOR = "system:rescore"
BY = {"by": SYSTEM_ACTOR}
RESCORE_PAGE = 5000  # customers a page of the walk reads (``scored_changes``)
# the columns a scheduled change writes, set-based: its audit row and its level change
AUDIT_FIELDS = ("action", "target_type", "target_id", "detail", "at")
LEVEL_CHANGE_FIELDS = ("customer", "at", "from_level", "to_level", "score", "trigger", "reason")


@dataclass(frozen=True)
class Scoring:
    thresholds: Mapping[str, float]
    window_days: int
    monetary_half: Decimal
    potential_points: float = DEFAULT_POTENTIAL_POINTS
    industry_weights: Mapping[str, float] = field(default_factory=dict)
    every_hours: int = 24
    last_rescored_at: datetime | None = None


def value_settings() -> Scoring:
    """The organization's scoring settings (module docstring, step 2)."""
    row = ValueSettings.objects.first()
    if row is not None:
        return Scoring(
            {"A": row.threshold_a, "B": row.threshold_b},
            row.window_days,
            row.monetary_half,
            row.potential_points,
            {str(k): float(v) for k, v in (row.industry_weights or {}).items()},
            row.rescore_every_hours,
            row.last_rescored_at,
        )
    configured = getattr(settings, "HIGHSEAS_VALUE_THRESHOLDS", None) or DEFAULT_THRESHOLDS
    return Scoring(
        {"A": float(configured["A"]), "B": float(configured["B"])},
        int(getattr(settings, "HIGHSEAS_VALUE_WINDOW_DAYS", 365)),
        Decimal(str(getattr(settings, "HIGHSEAS_VALUE_MONETARY_HALF", 100_000))),
    )


def _refuse() -> HighSeasError:
    return HighSeasError(
        ErrorCode.PERMISSION_DENIED, _("Only a manager or an admin may re-evaluate levels.")
    )


def rescored_customers(viewer: Viewer) -> QuerySet[Customer]:
    """The customers the viewer may rescore; a rep may not rescore."""
    if viewer.is_admin:
        return Customer.objects.filter(merged_into__isnull=True)
    if viewer.user.is_manager:
        return Customer.objects.filter(
            merged_into__isnull=True,
            status__in=HELD,
            owner__team_id__in=viewer.subtree_team_ids,
        )
    raise _refuse()


def histories(
    customers: QuerySet[Customer], now: datetime, window_days: int
) -> dict[int, WinHistory]:
    """Per customer with a win in the window: wins, amount and days since the last win."""
    rows = (
        Deal.objects.filter(
            customer__in=customers,
            stage=DealStage.WON,
            won_at__gt=now - timedelta(days=window_days),
            won_at__lte=now,
        )
        .values_list("customer_id")
        .annotate(wins=Count("id"), amount=Sum("amount"), last=Max("won_at"))
    )
    return {
        customer: WinHistory(wins, amount, (now - last).total_seconds() / 86400)
        for customer, wins, amount, last in rows
    }


def reason_of(
    history: WinHistory, scoring: Scoring, employees: int | None, band: str, industry: str
) -> dict[str, Any]:
    """The figures a score stands on, as a ``LevelChange.reason`` keeps them."""
    return {
        "wins": history.wins,
        "amount": f"{history.amount:.2f}",
        "window_days": scoring.window_days,
        "employees": employees,
        "revenue_band": band,
        "industry": industry,
        "industry_weight": scoring.industry_weights.get(industry, 0.0),
    }


def score_of(history: WinHistory, scoring: Scoring, reason: Mapping[str, Any]) -> float:
    potential = Potential(reason["employees"], reason["revenue_band"], reason["industry_weight"])
    return value_score(
        history,
        window_days=scoring.window_days,
        monetary_half=scoring.monetary_half,
        potential=potential,
        potential_points=scoring.potential_points,
    )


def reason_text(reason: Mapping[str, Any]) -> str:
    """A short reason: "近 12 个月成交 3 次，合计 ¥…；规模 500 人" (in the active language)."""
    months = max(round(reason["window_days"] / 30.4), 1)
    wins = int(reason["wins"])
    if wins:
        amount = f"{Decimal(reason['amount']):,.0f}"
        parts = [
            ngettext(
                "%(wins)d win in the last %(months)d months, ¥%(amount)s in all",
                "%(wins)d wins in the last %(months)d months, ¥%(amount)s in all",
                wins,
            )
            % {"wins": wins, "months": months, "amount": amount}
        ]
    else:
        parts = [_("no win in the last %(months)d months") % {"months": months}]
    if reason.get("employees"):
        parts.append(_("%(n)d employees") % {"n": reason["employees"]})
    if reason.get("revenue_band"):
        labels = dict(Customer._meta.get_field("revenue_band").choices or [])
        band = labels.get(reason["revenue_band"], reason["revenue_band"])
        parts.append(_("revenue %(band)s") % {"band": band})
    if reason.get("industry_weight"):
        parts.append(_("industry %(industry)s") % {"industry": reason["industry"]})
    return _("; ").join(parts)


def _unlocked(customers: QuerySet[Customer]) -> QuerySet[Customer]:
    return customers.exclude(Exists(LevelLock.objects.filter(customer_id=OuterRef("pk"))))


def scored_changes(
    customers: QuerySet[Customer], now: datetime, scoring: Scoring
) -> Iterator[dict[str, Any]]:
    """The level each unlocked customer would get, where it differs from the stored one. On
    the embedded server's jobs' thread it gives way to the requests every few milliseconds
    (``config.traffic``): over every customer it computes for minutes, and longer during a
    rush. So it reads the customers a page at a time, each page its own statement: one cursor
    open over the whole walk would keep SQLite's log from being checkpointed back to its start
    until the walk ends."""
    customers = _unlocked(customers)
    wins = histories(customers, now, scoring.window_days)
    rows = customers.order_by("id").values_list(
        "id", "level", "employees", "revenue_band", "industry"
    )
    slices = Slices()
    last = 0
    while page := list(rows.filter(id__gt=last)[:RESCORE_PAGE]):
        for customer_id, level, employees, band, industry in page:
            slices()
            history = wins.get(customer_id, WinHistory())
            reason = reason_of(history, scoring, employees, band, industry)
            score = score_of(history, scoring, reason)
            target = level_for(score, scoring.thresholds)
            if target != level:
                yield {"customer": customer_id, "from": level, "to": target, "score": score} | {
                    "reason": reason
                }
        last = page[-1][0]


def _shown(change: dict[str, Any]) -> dict[str, Any]:
    return {**change, "reason": reason_text(change["reason"])}


def _log(change: Mapping[str, Any], now: datetime, trigger: str, actor: Any) -> LevelChange:
    return LevelChange(
        customer_id=change["customer"],
        at=now,
        from_level=change["from"],
        to_level=change["to"],
        score=change.get("score"),
        trigger=trigger,
        actor=actor,
        reason=change.get("reason", {}),
    )


def rescore(viewer: Viewer, *, now: datetime, dry_run: bool = False) -> dict[str, Any]:
    """Re-evaluate value → level for the unlocked customers in scope; returns the changes,
    each with its reason."""
    scoring = value_settings()
    if dry_run:
        changes = list(scored_changes(rescored_customers(viewer), now, scoring))
        return {"dry_run": True, "changes": [_shown(change) for change in changes]}
    with transaction.atomic():
        changes = list(scored_changes(rescored_customers(viewer), now, scoring))
        for change in changes:
            edit_customer(viewer, change["customer"], {"level": change["to"]})
        LevelChange.objects.bulk_create(
            _log(change, now, LevelChange.Trigger.RESCORE, viewer.user) for change in changes
        )
    return {"dry_run": False, "changes": [_shown(change) for change in changes]}


class _LostRace(Exception):
    """A batch's compare-and-set changed fewer rows than it locked and checked."""


def _clocks(rows: dict[int, dict[str, Any]], levels: dict[int, str]) -> dict[int, Schedule]:
    """Each customer's schedule at its new level, as ``refresh_schedule`` computes it one by
    one (``pools.schedule.schedule_for``): only an owned customer has one; its pool's rules,
    open deals and won-deal ends where the rules ask, the owner's leave where it pauses.
    A handful of reads for the whole batch."""
    owned = {pk: row for pk, row in rows.items() if row["status"] == CustomerStatus.OWNED}
    pools = Pool.objects.select_related("recycle_policy").in_bulk(
        {row["pool_id"] for row in owned.values() if row["pool_id"] is not None}
    )
    rules = {pool_id: recycle_rules(pool) for pool_id, pool in pools.items()}
    wanted = [r for r in rules.values() if r is not None]
    open_deals = (
        set(
            Deal.objects.filter(customer_id__in=list(owned))
            .exclude(stage__in=[DealStage.WON, DealStage.LOST])
            .values_list("customer_id", flat=True)
        )
        if any(r.exempt_open_deal for r in wanted)
        else set()
    )
    won = [pk for pk, row in owned.items() if row["stage"] == CustomerStage.WON]
    ends = won_until(won) if any(r.won_repurchase_days is not None for r in wanted) else {}
    pausing = any(r.leave_mode == "pause" for r in wanted)
    leaves = leave_pauses(row["owner_id"] for row in owned.values()) if pausing else {}
    found: dict[int, Schedule] = {}
    for pk, row in owned.items():
        rule = rules.get(row["pool_id"])
        if rule is None:
            found[pk] = Schedule()
            continue
        clock = CustomerClock(
            Status.OWNED,
            levels[pk],
            row["stage"] == CustomerStage.WON,
            rule.exempt_open_deal and pk in open_deals,
            row["owned_since"],
            row["last_effective_activity_at"],
            row["last_activity_at"],
            ends.get(pk) if rule.won_repurchase_days is not None else None,
            leaves.get(row["owner_id"], ()) if rule.leave_mode == "pause" else (),
        )
        found[pk] = schedule(rule, clock)
    return found


CLOCK_FIELDS = (
    *("id", "level", "status", "owner_id", "pool_id", "owned_since", "stage"),
    *("last_effective_activity_at", "last_activity_at"),
)


def _apply_batch(changes: list[dict[str, Any]], now: datetime) -> int:
    """Compare-and-set a batch of scheduled changes in one transaction (module docstring,
    step 5): lock the batch's rows in one statement and drop the customers that moved on
    since they were scored (their level changed, they were locked or merged); one
    ``UPDATE … FROM (VALUES …)`` per 500 rows sets each level and its recomputed schedule,
    guarded on the level read (``pools.set_update``); then the audit rows and the
    ``LevelChange`` rows, each in multi-row inserts. Returns how many changed."""
    ids = [change["customer"] for change in changes]
    rows = {
        row["id"]: row
        for row in Customer.objects.filter(pk__in=ids, merged_into__isnull=True)
        .select_for_update(of=("self",))
        .order_by("pk")  # in id order, as every writer of several customers locks them
        .values(*CLOCK_FIELDS)
    }
    locked = set(
        LevelLock.objects.filter(customer_id__in=ids).values_list("customer_id", flat=True)
    )
    todo = [
        change
        for change in changes
        if change["customer"] in rows
        and change["customer"] not in locked
        and rows[change["customer"]]["level"] == change["from"]
    ]
    if not todo:
        return 0
    plans = _clocks(
        {c["customer"]: rows[c["customer"]] for c in todo}, {c["customer"]: c["to"] for c in todo}
    )
    values = [
        (
            *(change["customer"], change["from"], change["to"]),
            db_time(plans.get(change["customer"], Schedule()).due_at),
            db_time(plans.get(change["customer"], Schedule()).warn_at),
        )
        for change in todo
    ]
    written = update_rows(
        Customer,
        ("level", "recycle_due_at", "warn_at"),
        values,
        match=("level",),
        guard=(("merged_into", "is null", None),),
    )
    if written != len(values):
        raise _LostRace
    when, audited = db_datetime(now), db_datetime(timezone.now())
    insert_rows(
        AuditLog,
        AUDIT_FIELDS,
        [
            (
                *(AuditLog.Action.CUSTOMER_EDIT.value, "customer", str(change["customer"])),
                db_json({"field": "level", "before": change["from"], "after": change["to"]} | BY),
                audited,
            )
            for change in todo
        ],
    )
    insert_rows(
        LevelChange,
        LEVEL_CHANGE_FIELDS,
        [
            (
                *(change["customer"], when, change["from"], change["to"], change.get("score")),
                LevelChange.Trigger.SCHEDULED.value,
                db_json(change.get("reason", {})),
            )
            for change in todo
        ],
    )
    return len(todo)


def _apply_one_by_one(changes: list[dict[str, Any]], now: datetime) -> int:
    """A batch whose compare-and-set lost a race (a database without row locks): each change
    in its own savepoint, so the ones that still hold are applied and the rest dropped."""
    applied = 0
    for change in changes:
        try:
            with transaction.atomic():
                applied += _apply_batch([change], now)
        except _LostRace:
            continue
    return applied


def is_rescore_due(scoring: Scoring, now: datetime) -> bool:
    """Due every ``rescore_every_hours``; daily or less often, at the night hour
    (``pools.nightly``)."""
    return nightly.is_due(scoring.last_rescored_at, timedelta(hours=scoring.every_hours), now)


def scheduled_rescore(
    now: datetime, *, batch_size: int = 500, force: bool = False
) -> dict[str, Any]:
    """The scheduler's re-evaluation of every customer, at most once per
    ``rescore_every_hours`` (daily by default, at the night hour): bounded batches, each its own
    transaction (module docstring)."""
    scoring = value_settings()
    if not force and not is_rescore_due(scoring, now):
        return {"rescored": 0}
    changes = list(scored_changes(Customer.objects.filter(merged_into__isnull=True), now, scoring))
    applied = 0
    for start in range(0, len(changes), batch_size):
        batch = changes[start : start + batch_size]
        try:
            with transaction.atomic():
                applied += _apply_batch(batch, now)
        except _LostRace:
            applied += _apply_one_by_one(batch, now)
    row = ValueSettings.objects.first() or ValueSettings()
    row.last_rescored_at = now
    row.save()
    return {"rescored": applied}


def _customer_for_lock(viewer: Viewer, customer_id: int) -> Customer:
    if not (viewer.is_admin or viewer.user.is_manager):
        raise HighSeasError(
            ErrorCode.PERMISSION_DENIED, _("Only a manager or an admin may lock a level.")
        )
    customer = viewer.customers().filter(pk=customer_id).first()
    if customer is None:
        raise HighSeasError(ErrorCode.NOT_FOUND, _("No such customer."))
    if not may_edit(viewer, customer):
        raise HighSeasError(ErrorCode.NOT_OWNER, _("Only the owner or their manager may edit."))
    return customer


@transaction.atomic
def lock_level(
    viewer: Viewer, customer_id: int, *, level: str, reason: str = "", now: datetime
) -> dict[str, Any]:
    """Set a customer's level by hand and keep it there: re-evaluation leaves it alone."""
    if level not in CustomerLevel.values:
        raise HighSeasError(
            ErrorCode.VALIDATION_ERROR,
            _("Unknown level."),
            errors={"level": [f"one of {', '.join(CustomerLevel.values)}"]},
        )
    before = _customer_for_lock(viewer, customer_id).level
    edit_customer(viewer, customer_id, {"level": level})
    LevelLock.objects.update_or_create(
        customer_id=customer_id,
        defaults={"level": level, "reason": reason[:200], "locked_by": viewer.user}
        | {"locked_at": now},
    )
    if before != level:
        change = {"customer": customer_id, "from": before, "to": level, "score": None}
        _log(change | {"reason": {"lock": reason[:200]}}, now, "lock", viewer.user).save()
    return {"customer": customer_id, "level": level, "locked": True, "reason": reason[:200]}


@transaction.atomic
def unlock_level(viewer: Viewer, customer_id: int) -> dict[str, Any]:
    """Hand the customer's level back to the score (the next re-evaluation may change it)."""
    customer = _customer_for_lock(viewer, customer_id)
    LevelLock.objects.filter(customer_id=customer_id).delete()
    return {"customer": customer_id, "level": customer.level, "locked": False, "reason": ""}


def level_explanation(viewer: Viewer, customer: Customer, *, now: datetime) -> dict[str, Any]:
    """Why the customer has its level, for its page: the lock (who set it and why) or the
    figures the score stands on today, and the score. The caller has already opened the
    customer through the viewer's door."""
    lock = LevelLock.objects.filter(customer_id=customer.pk).select_related("locked_by").first()
    scoring = value_settings()
    one = Customer.objects.filter(pk=customer.pk)
    history = histories(one, now, scoring.window_days).get(customer.pk, WinHistory())
    reason = reason_of(
        history, scoring, customer.employees, customer.revenue_band, customer.industry
    )
    score = score_of(history, scoring, reason)
    return {
        "level": customer.level,
        "score": score,
        "scored_level": level_for(score, scoring.thresholds),
        "text": reason_text(reason),
        "locked": lock is not None,
        "lock_reason": lock.reason if lock else "",
        "locked_by": lock.locked_by.label if lock and lock.locked_by else "",
    }
