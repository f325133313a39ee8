"""Reading rules, reps and customers into the engine's plain forms.

Reps are read in bulk — one query each for the reps and their profiles, their holdings (when
a limit or a rule uses them), what they were given today and (when a rule uses it) their win
rate — so a roster costs the same for one customer as for a batch of thousands.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import Enum
from typing import Any

from django.db import connection
from django.db.models import (
    AutoField,
    Count,
    DateTimeField,
    ForeignKey,
    IntegerField,
    JSONField,
    Max,
    Q,
    QuerySet,
)
from django.db.models.sql.constants import MULTI
from django.utils import timezone

from highseas.accounts.models import RepProfile, Role, Team, User
from highseas.customers.choices import CustomerStage
from highseas.customers.models import Customer, Deal
from highseas.engine.limits import effective_limits
from highseas.engine.ownership import EventKind
from highseas.engine.periods import day_start
from highseas.engine.planner import RoutedCustomer, Rule
from highseas.engine.routing import Candidate, Skills, smoothed_win_rate
from highseas.engine.targets import Strategy, TeamTarget, UserTarget, parse_target
from highseas.pools.facts import assigned_on, holdings_of, on_leave
from highseas.pools.models import OwnershipEvent, Pool
from highseas.pools.policies import claim_limits, rep_overrides
from highseas.pools.rows import columns, db_datetime
from highseas.routing.models import AssignmentRule

WIN_RATE_WINDOW = timedelta(days=90)
ROUTED_FIELDS = (
    "province",
    "city",
    "industry",
    "employees",
    "revenue_band",
    "source",
    "campaign",
    "level",
    "kind",
    "tags",
)
CUSTOMER_COLUMNS = (
    "id",
    "pool_id",
    "name",
    "stage",
    "custom_fields",
    "last_effective_activity_at",
    "last_activity_at",
    *ROUTED_FIELDS,
)
_EMPTY_JSON: dict[str, Any] = {"[]": list, "{}": dict}  # a JSON column's text: its value
_COLUMN_FIELDS: dict[str, Any] = {
    name: Customer._meta.get_field(name.removesuffix("_id")) for name in CUSTOMER_COLUMNS
}
# each column's attribute and the types it reads back as (JSON: the plain containers and
# scalars, whose values ``customer_row`` trusts to be plain too — the import writes text)
_COLUMN_KINDS = [
    (
        name,
        field.attname,
        frozenset({list, dict, str, int, float, bool})
        if isinstance(field, JSONField)
        else frozenset({datetime})
        if isinstance(field, DateTimeField)
        else frozenset({int})
        if isinstance(field, IntegerField | ForeignKey | AutoField)
        else frozenset({str}),
    )
    for name, field in _COLUMN_FIELDS.items()
]


def customer_rows(
    customers: QuerySet[Customer], also: tuple[str, ...] = ()
) -> list[dict[str, Any]]:
    """The rows of ``CUSTOMER_COLUMNS``, the ``hint`` and the annotations ``also`` of
    ``customers``, as ``values()``
    reads them: the same query and the same converters, applied in one loop, where the JSON
    columns' usual texts (an empty list or object) are decoded by shape. The ORM's generic
    loop (a list per row, each converter a call, then a dict) cost about half as much again
    as SQLite's own work on a backlog run's batch, and most of it went to decoding ``[]`` and
    ``{}``."""
    values = customers.values(*CUSTOMER_COLUMNS, "hint", *also)
    query = values.query
    compiler = query.get_compiler(values.db)
    chunks = compiler.execute_sql(MULTI)
    if chunks is None:
        return []
    names = [*query.extra_select, *query.values_select, *query.annotation_select]
    fields = [column[0] for column in compiler.select[: compiler.col_count]]
    steps = [  # (position, whether a JSON column's decoding alone, converters, expression)
        (
            position,
            len(converters) == 1 and isinstance(getattr(expression, "target", None), JSONField),
            converters,
            expression,
        )
        for position, (converters, expression) in compiler.get_converters(fields).items()
    ]
    db = compiler.connection
    found = []
    for chunk in chunks:
        for raw in chunk:
            row = list(raw)
            for position, is_json, converters, expression in steps:
                value = row[position]
                if is_json and type(value) is str and value in _EMPTY_JSON:
                    row[position] = _EMPTY_JSON[value]()
                    continue
                for converter in converters:
                    value = converter(value, expression, db)
                row[position] = value
            found.append(dict(zip(names, row, strict=True)))
    return found


def customer_row(customer: Customer) -> dict[str, Any]:
    """A customer just written, as a row of ``CUSTOMER_COLUMNS`` read back would be (``hint``
    left to the engine: ``None``, every rule tested). A value of the type the column reads
    back as is taken as it is; any other goes as its field gives it to Python (a choice's
    ``Enum`` as its text, a number as ``int``), JSON as it decodes."""
    values = customer.__dict__
    row: dict[str, Any] = {"hint": None}
    for name, attname, kinds in _COLUMN_KINDS:
        value = values[attname]
        if value is not None and type(value) not in kinds:
            value = _as_read(name, value)
        row[name] = value
    return row


def _as_read(name: str, value: Any) -> Any:
    field = _COLUMN_FIELDS[name]
    if isinstance(field, JSONField):
        return json.loads(json.dumps(value, cls=field.encoder))
    return field.to_python(value.value if isinstance(value, Enum) else value)


def routed_customer(row: dict[str, Any], hint: int | None = None) -> RoutedCustomer:
    """A row of ``CUSTOMER_COLUMNS`` as the engine sees it; ``row`` gains ``is_won``."""
    fields: dict[str, object] = {name: row[name] for name in ROUTED_FIELDS}
    fields["custom"] = row["custom_fields"]
    row["is_won"] = row["stage"] == CustomerStage.WON
    return RoutedCustomer(row["id"], row["pool_id"], fields, row["is_won"], hint)


@dataclass
class RuleSet:
    """The active rules of a run, and what their targets need read."""

    rows: list[AssignmentRule]
    rules: list[Rule]
    team_ids: set[int] = field(default_factory=set)
    user_ids: set[int] = field(default_factory=set)
    cursor_keys: list[tuple[int, int]] = field(default_factory=list)
    needs_win_rate: bool = False
    # a rule's strategy weighs what the reps hold (fewest first, a tie-break, the smart
    # matching's room); a holding cap needs the counts too (``build_roster``)
    needs_holdings: bool = False
    has_smart: bool = False  # a rule scores with the win model

    @property
    def by_id(self) -> dict[int, AssignmentRule]:
        return {row.pk: row for row in self.rows}


HOLDINGS_STRATEGIES = (Strategy.LEAST_LOADED, Strategy.SKILL, Strategy.SMART)


def active_rules(pool: Pool | None) -> RuleSet:
    """The active rules for ``pool`` (its own and those for every pool), or for every pool."""
    rows = AssignmentRule.objects.filter(is_active=True).order_by("position", "id")
    if pool is not None:
        rows = rows.filter(Q(pool__isnull=True) | Q(pool=pool))
    rule_set = RuleSet(list(rows), [])
    for row in rule_set.rows:
        target = parse_target(row.target)
        rule_set.rules.append(
            Rule(row.pk, row.name, row.conditions or {}, target, row.pool_id, row.position)
        )
        if isinstance(target, TeamTarget):
            rule_set.team_ids.add(target.team_id)
            rule_set.cursor_keys.append((row.pk, target.team_id))
            # smart falls back to performance without a usable model
            rule_set.needs_win_rate |= target.strategy in (Strategy.PERFORMANCE, Strategy.SMART)
            rule_set.has_smart |= target.strategy is Strategy.SMART
            rule_set.needs_holdings |= target.strategy in HOLDINGS_STRATEGIES
        elif isinstance(target, UserTarget):
            rule_set.user_ids.add(target.user_id)
    return rule_set


def team_reps(team_ids: Iterable[int]) -> dict[int, list[int]]:
    """Each team's reps, with those of the teams below it, by user id."""
    paths = dict(Team.objects.filter(pk__in=list(team_ids)).values_list("pk", "path"))
    if not paths:
        return {}
    under = Q()
    for path in paths.values():
        under |= Q(team__path__startswith=path)
    reps = User.objects.filter(under, role=Role.REP).values_list("pk", "team__path")
    found: dict[int, list[int]] = {team_id: [] for team_id in paths}
    for rep_id, rep_path in reps.order_by("pk"):
        for team_id, path in paths.items():
            if rep_path.startswith(path):
                found[team_id].append(rep_id)
    return found


class AssignedToday:
    """What each rep was given on the calendar day of ``now``, kept current batch after batch
    without recounting the day: the first reading counts it and notes the highest ledger id;
    each later one adds the ``assigned`` rows past that id, counted per rep by the database,
    and moves the mark to the highest it counted (so it costs what was written since, not
    what was written all day; an import's runs carry it from batch to batch, ``runs.Carried``).

    Sound only while the reps' locks are held at every reading: whoever writes an
    ``assigned`` row for a rep holds that rep's lock first (``ownership.assign``, the
    set-based apply), so no such row can appear with an id below the mark after a reading.
    """

    def __init__(self, rep_ids: list[int], now: datetime) -> None:
        self.rep_ids, self.now = set(rep_ids), now
        self.counts: dict[int, int] | None = None
        self.mark = 0

    def read(self) -> dict[int, int]:
        if self.counts is None:
            self.mark = OwnershipEvent.objects.aggregate(top=Max("id"))["top"] or 0
            self.counts = assigned_on(sorted(self.rep_ids), self.now)
            return self.counts
        for owner_id, count, top in self._since():  # one row a rep: a batch writes thousands
            self.counts[owner_id] = self.counts.get(owner_id, 0) + count
            self.mark = max(self.mark, top)
        return self.counts

    def _since(self) -> list[tuple[int, int, int]]:
        """(rep, how many, highest id) of the ``assigned`` rows of the day past the mark.

        The rows past the mark are taken first by the primary key (``MATERIALIZED``), then
        tested: left to itself, SQLite's planner prefers the index on (rep, kind, time),
        whose day range holds every row assigned that day, so each batch of a run read the
        day's rows so far again (a tenth of a second a batch by the end of a 100,000-customer
        run), where the rows written since are a batch's."""
        reps = sorted(self.rep_ids)
        if not reps:  # rules that reach nobody (``IN ()`` is no SQL on PostgreSQL)
            return []
        start = day_start(self.now, timezone.get_default_timezone())
        table, (pk, owner, kind, at) = columns(OwnershipEvent, "id", "to_owner", "kind", "at")
        marks = ", ".join(["%s"] * len(reps))
        sql = (
            f"WITH recent AS MATERIALIZED (SELECT {pk} AS id, {owner} AS owner_id, "
            f"{kind} AS kind, {at} AS at FROM {table} WHERE {pk} > %s) "
            "SELECT owner_id, COUNT(*), MAX(id) FROM recent WHERE kind = %s "
            f"AND owner_id IN ({marks}) AND at >= %s AND at < %s GROUP BY owner_id"
        )
        params: list[Any] = [self.mark, EventKind.ASSIGNED.value, *reps]
        params += [db_datetime(start), db_datetime(start + timedelta(days=1))]
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return [(owner_id, count, top) for owner_id, count, top in cursor.fetchall()]


def win_rates(rep_ids: list[int], now: datetime) -> dict[int, float]:
    """Smoothed win rate of each rep's deals decided in the window before ``now``."""
    since = now - WIN_RATE_WINDOW
    rows = (
        Deal.objects.filter(owner_id__in=rep_ids)
        .values("owner_id")
        .annotate(
            won=Count("id", filter=Q(won_at__gte=since, won_at__lte=now)),
            lost=Count("id", filter=Q(lost_at__gte=since, lost_at__lte=now)),
        )
    )
    decided = {row["owner_id"]: (row["won"], row["lost"]) for row in rows}
    return {rep: smoothed_win_rate(*decided.get(rep, (0, 0))) for rep in rep_ids}


def _skills(raw: Any) -> Skills:
    raw = raw if isinstance(raw, dict) else {}

    def texts(key: str) -> frozenset[str]:
        values = raw.get(key)
        return (
            frozenset(v for v in values if isinstance(v, str))
            if isinstance(values, list)
            else frozenset()
        )

    return Skills(texts("industries"), texts("regions"), texts("product_lines"))


@dataclass
class Roster:
    """The candidates of one pool's rules: by team, and the users named directly."""

    by_team: dict[int, list[Candidate]]
    users: dict[int, Candidate]

    @property
    def everyone(self) -> list[Candidate]:
        return [*self.users.values(), *(c for team in self.by_team.values() for c in team)]


def build_roster(
    rule_set: RuleSet,
    reps_by_team: dict[int, list[int]],
    pool: Pool | None,
    now: datetime,
    given: Mapping[int, int] | None = None,
    excluded: frozenset[int] = frozenset(),
    profiles: Mapping[int, RepProfile] | None = None,
) -> Roster:
    """Snapshots of every rep the rules can reach, with the limits of ``pool``; ``given``
    (what each rep was given today) is counted here unless the caller keeps it; the reps in
    ``excluded`` are in the roster but unavailable (a departing rep, during their handover).
    ``profiles``: the reps' profiles with their users, as the caller has just read them under
    their locks (``facts.lock_reps``), so they are not read again.

    What the reps hold is counted only when something weighs it: a holding cap on any of them
    (the pool's or a rep's own) or a rule's strategy (``RuleSet.needs_holdings``). Otherwise
    every rep's holdings are 0 here and nothing reads them — a count that grows with what the
    reps hold (a scan of their customers), once per batch of a run or an import."""
    rep_ids = sorted({*rule_set.user_ids, *(r for reps in reps_by_team.values() for r in reps)})
    if profiles is not None and all(rep in profiles for rep in rep_ids):
        users = {rep: profiles[rep].user for rep in rep_ids}
        found: dict[int, RepProfile | None] = dict(profiles)
    else:
        users = {u.pk: u for u in User.objects.filter(pk__in=rep_ids).select_related("profile")}
        found = {rep: getattr(user, "profile", None) for rep, user in users.items()}
    pool_limits = claim_limits(pool)
    limits_of = {
        rep_id: effective_limits(pool_limits, rep_overrides(found.get(rep_id))) for rep_id in users
    }
    weighed = rule_set.needs_holdings or any(
        limits.holding_cap is not None for limits in limits_of.values()
    )
    held = holdings_of(rep_ids) if weighed else {}
    given = assigned_on(rep_ids, now) if given is None else given
    rates = win_rates(rep_ids, now) if rule_set.needs_win_rate else {}
    today = timezone.localtime(now).date()
    candidates: dict[int, Candidate] = {}
    for rep_id, user in users.items():
        profile = found.get(rep_id)
        limits = limits_of[rep_id]
        open_held, won_held = held.get(rep_id, (0, 0))
        candidates[rep_id] = Candidate(
            rep_id=rep_id,
            name=user.label,
            is_active=(
                user.is_active and (profile is None or profile.is_active) and rep_id not in excluded
            ),
            on_leave=profile is not None and on_leave(profile, today),
            holdings=open_held,
            won_holdings=won_held,
            holding_cap=limits.holding_cap,
            count_won_in_cap=limits.count_won_in_cap,
            assigned_today=given.get(rep_id, 0),
            daily_capacity=limits.daily_quota,
            skills=_skills(profile.skills if profile else None),
            win_rate=rates.get(rep_id, 0.5),
        )
    return Roster(
        by_team={
            team: [candidates[r] for r in reps if r in candidates]
            for team, reps in reps_by_team.items()
        },
        users={u: candidates[u] for u in rule_set.user_ids if u in candidates},
    )
