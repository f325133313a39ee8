"""One assignment run over a backlog (SPEC §7), previewed or real, by the same code path.

1. The active rules are read once; their conditions, compiled to ``Q`` (``compile.py``), become
   one ``CASE`` naming the first rule each customer may match, so the database selects only
   pooled customers some rule may take, and tells the engine where to start testing.
2. The backlog is walked in keyset order ``(pool, id)``, ``batch_size`` customers per
   transaction (fewer while claims wait for what a batch holds:
   ``config.pacing``). In a real run each batch first locks the rules' pointers (on
   SQLite the write transaction serializes everything). A backlog run (the set-based path) then
   locks every rep the rules can reach (``facts.lock_reps``), then its customers
   (``FOR UPDATE``), and re-reads the reps' loads under those locks, so that concurrent runs
   plan from true loads; a small run (a registration, a short import) locks the same reps in id
   order without reading them (``lock_rep_rows``), then gives customers one by one: the plain
   case through the rule's fast path (``pools.assign_statements.assign_by_rule``: one read, the
   compare-and-set with its ledger row, under the rep's lock the batch already holds, the
   receivers told once per batch in the batch's transaction), anything else through
   ``pools.bulk_assign.assign_many``, which locks the rep, then that customer — reps before
   customers, the order every writer of ownership takes.
3. The engine plans the batch with the run's seeded random source, pointers and loads carried
   from the previous batch (a smart rule's customers matched at once by the win model that
   is current when the run starts, ``smart.services.scoring``); a real run applies it
   through ``pools.bulk_assign.assign_many`` (``apply.py``), which re-checks caps and
   quotas under the receivers' locks and refuses what would pass them (from the counts the
   segment's roster made under those same locks, handed in as ``bulk_assign.Loads``). On
   the small path a refusal at the cap or quota re-reads the loads and plans that customer
   again, so it falls through to the next rep or stays pooled, saying why.
   The run then writes the pointers back with compare-and-set and logs every decision (an
   unscored eligible set once per run: ``EligibleSets``).
4. A preview does the same without locks or writes, carrying loads and pointers in memory, so
   with the same seed and data it decides exactly what the real run will.
A killed run loses at most its open batch, which rolls back; running again picks up the rest.
Python's full collections are held off while a run walks (``full_collections_held``).
"""

from __future__ import annotations

import copy
import gc
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import cached_property
from typing import Any

from django.db import connection, connections, transaction
from django.db.models import BigIntegerField, Case, Q, QuerySet, Value, When
from django.db.models.expressions import RawSQL
from django.utils import timezone

from highseas.accounts.models import RepProfile, User
from highseas.config.pacing import Pacer
from highseas.customers.choices import CustomerStatus
from highseas.customers.models import Customer
from highseas.engine.errors import ErrorCode, HighSeasError
from highseas.engine.planner import NO_MODEL, Decision, Outcome, PlanState, RoutedCustomer, plan
from highseas.engine.routing import Candidate, Load
from highseas.engine.smart import Scoring
from highseas.notify.services import notify_many
from highseas.pools import assign_statements
from highseas.pools.bulk_assign import Loads, Unwritten, ledger_mark
from highseas.pools.facts import lock_rep_rows, lock_reps
from highseas.pools.models import Pool
from highseas.pools.rows import db_datetime, insert_rows, json_adapter
from highseas.routing import cursors
from highseas.routing.apply import Applier
from highseas.routing.compile import compile_conditions
from highseas.routing.models import AssignmentDecision, AssignmentRun, RoutingCursor
from highseas.routing.snapshots import (
    AssignedToday,
    Roster,
    RuleSet,
    active_rules,
    build_roster,
    customer_rows,
    routed_customer,
    team_reps,
)
from highseas.smart.services import scoring

DEFAULT_BATCH = 5_000
DECISION_FIELDS = ("run", "customer", "rule", "owner", "outcome", "reason", "explanation", "at")
SERVICE_PATH_MAX = 50  # runs this small apply decision by decision, locking only receivers
FALLS_THROUGH = {ErrorCode.HOLDING_CAP_REACHED, ErrorCode.CLAIM_QUOTA_EXCEEDED}
Progress = Callable[[int, int], None]


_HELD = threading.Lock()
_holders: list[tuple[int, int, int]] = []  # the thresholds before the first run held them


@contextmanager
def full_collections_held() -> Iterator[None]:
    """Python's full (oldest-generation) collections held off while a run walks its backlog.

    A run keeps every decision with its explanation (``RunResult``): about thirty objects a
    customer, millions over a backlog, so each full collection walks the whole of them, and
    the collector starts one each time the heap grows by a quarter. Over 100,000 customers
    that was nine collections and about 40 % of the run's CPU, attributed in profiles to
    whatever line allocated at that moment (building a batch's values list). Young
    collections go on as before, so short-lived cycles are still freed; what is left is
    collected at the first full collection after the last run ends, whose thresholds come
    back as they were. Process-wide, so counted: concurrent runs restore them once."""
    with _HELD:
        if not _holders:
            young, middle, _old = thresholds = gc.get_threshold()
            gc.set_threshold(young, middle, 2**31 - 1)
        else:
            thresholds = _holders[0]
        _holders.append(thresholds)
    try:
        yield
    finally:
        with _HELD:
            thresholds = _holders.pop()
            if not _holders:
                gc.set_threshold(*thresholds)


class ApplyMode:
    SERVICE = "service"
    BULK = "bulk"


@dataclass
class RunResult:
    run: AssignmentRun
    decisions: list[Decision] = field(default_factory=list)
    customer_names: dict[int, str] = field(default_factory=dict)

    @property
    def assigned(self) -> list[Decision]:
        return [d for d in self.decisions if d.outcome is Outcome.ASSIGNED]

    @property
    def unassigned(self) -> list[Decision]:
        return [d for d in self.decisions if d.outcome is not Outcome.ASSIGNED]


@dataclass(frozen=True)
class RunOptions:
    dry_run: bool
    now: datetime
    seed: int
    trigger: str = AssignmentRun.Trigger.MANUAL
    pool: Pool | None = None
    customer_ids: Sequence[int] | None = None
    batch_size: int = DEFAULT_BATCH
    apply_mode: str | None = None
    progress: Progress | None = None
    excluded_reps: frozenset[int] = frozenset()  # reps the rules may not give anything to
    # the rows (``CUSTOMER_COLUMNS``) of customers the caller wrote pooled in this transaction,
    # by id: planned from here, not read again (nobody else can have changed them)
    rows: Mapping[int, Mapping[str, Any]] | None = None
    # those of ``rows`` the caller has not inserted yet (``bulk_assign.Unwritten``): granted in
    # memory, written by the caller after the run; only on the set-based path, in one batch
    # of one pool (a later batch or segment would count the reps' holdings from the customers
    # table again, where the customers granted so far are not yet)
    unwritten: Unwritten | None = None


@dataclass
class Carried:
    """What the runs routing one import's batches (one run per batch, each in its batch's
    transaction) carry from one to the next: the win model, and the count of what each rep
    was given today (``AssignedToday``, brought up to date under the reps' locks at every
    batch, as a backlog run's batches do). The rules, the teams' reps, the pools with their
    policies, the reps' profiles and their holdings are read again by every run, under its
    locks, as any run reads them: the caps and quotas it plans by and ``assign_many``
    re-checks are the database's at that batch."""

    scoring: Scoring | None = None
    assigned_today: AssignedToday | None = None

    def assigned_for(self, rep_ids: list[int], now: datetime) -> AssignedToday:
        known = self.assigned_today
        if known is None or known.rep_ids != set(rep_ids) or known.now != now:
            known = self.assigned_today = AssignedToday(rep_ids, now)
        return known


class EligibleSets:
    """The unscored eligible sets a real run's decisions name, each stored once on the run
    (``AssignmentRun.eligible_sets``): a round-robin decision among a hundred reps then
    stores its set's number, not a hundred names. The planner gives decisions in a row that
    saw the same reps one shared dict (``planner._Route.named``), so most decisions are
    matched to their set by that dict's identity."""

    SMALLEST = 2  # a set of one rep is stored in the decision: its number is no shorter

    def __init__(self, run: AssignmentRun) -> None:
        self.run = run
        self.numbers: dict[tuple[str, ...], int] = {}
        # by the shared dict's id, holding the dict so that its id is not reused
        self.seen: dict[int, tuple[dict[str, Any], int]] = {}
        self.saved = len(run.eligible_sets)

    def stored(self, explanation: dict[str, Any]) -> dict[str, Any]:
        """The explanation as it is stored: its eligible set by number when it has one."""
        eligible = explanation.get("eligible")
        if eligible is None or len(eligible) < self.SMALLEST:
            return explanation
        known = self.seen.get(id(eligible))
        if known is None:
            if any(score is not None for score in eligible.values()):
                return explanation  # scored: differs from decision to decision
            reps = tuple(eligible)
            number = self.numbers.get(reps)
            if number is None:
                number = self.numbers[reps] = len(self.run.eligible_sets)
                self.run.eligible_sets.append([int(rep) for rep in reps])
            known = self.seen[id(eligible)] = (eligible, number)
        compact = {key: value for key, value in explanation.items() if key != "eligible"}
        compact["eligible_set"] = known[1]
        return compact

    def save(self) -> None:
        """Stores the sets added since the last save, in the transaction of the decisions
        that name them."""
        if len(self.run.eligible_sets) > self.saved:
            AssignmentRun.objects.filter(pk=self.run.pk).update(
                eligible_sets=self.run.eligible_sets
            )
            self.saved = len(self.run.eligible_sets)


def first_rule(rule_set: RuleSet, vendor: str) -> Case | Value:
    """The first rule whose compiled (superset) conditions a customer passes, or NULL."""
    whens: list[When] = []
    for rule in rule_set.rules:
        compiled = compile_conditions(rule.conditions, vendor)
        condition = compiled.q
        if rule.pool_id is not None:
            in_pool = Q(pool_id=rule.pool_id)
            condition = in_pool if condition is None else in_pool & condition
        if condition is None:
            default = Value(rule.rule_id, output_field=BigIntegerField())
            return (
                Case(*whens, default=default, output_field=BigIntegerField()) if whens else default
            )
        whens.append(When(condition, then=Value(rule.rule_id)))
    if not whens:
        return Value(None, output_field=BigIntegerField())
    return Case(*whens, default=None, output_field=BigIntegerField())


def reps_reached(rule_set: RuleSet) -> tuple[dict[int, list[int]], list[int]]:
    """The reps of each team the rules name, and every rep the rules reach, in id order (the
    order every writer of several reps locks them in)."""
    reps_by_team = team_reps(rule_set.team_ids)
    named = User.objects.filter(pk__in=rule_set.user_ids).values_list("pk", flat=True)
    return reps_by_team, sorted({*named, *(r for reps in reps_by_team.values() for r in reps)})


def pointer_keys(rule_set: RuleSet, reps_by_team: Mapping[int, list[int]]) -> list[cursors.Key]:
    """The round-robin pointers a run of ``rule_set`` moves: a rule may name a team deleted
    since, which has no pointer and routes to nobody."""
    return [key for key in rule_set.cursor_keys if key[1] in reps_by_team]


def lock_routing(reps: Iterable[int] = ()) -> None:
    """Take first what a routing run of new or released customers locks, with ``reps``: the
    rules' round-robin pointers, then every rep the rules reach and ``reps`` in id order
    (``lock_rep_rows``). For a writer that holds reps or customers of its own and then
    routes in the same transaction (an import batch naming owners or merging, a handover to
    the rules): locking its own first and the run's pointers and reps later would take them
    out of the order every router takes (pointers, reps in id order, then customers), and a
    registration routed meanwhile would wait on it in a cycle. On SQLite the write
    transaction already excludes every other writer: nothing is locked."""
    if not connection.features.has_select_for_update:
        return
    rule_set = active_rules(None)
    by_team, rep_ids = reps_reached(rule_set)
    keys = pointer_keys(rule_set, by_team)
    cursors.ensure(keys)
    cursors.lock(keys)
    lock_rep_rows([*rep_ids, *reps])


PLANS_AHEAD = True  # a backlog run on PostgreSQL plans its next page meanwhile (``Runner``)


@dataclass
class Ahead:
    """A page planned ahead (``Runner._ahead_planner``): where it was (after the row, how
    many), its rows, the roster and the pointers it was planned from, the customers as the
    engine saw them, what it decided, and the state the plan left."""

    at: tuple[tuple[int, int], int]
    rows: list[dict[str, Any]]
    roster: Roster
    starts_from: dict[cursors.Key, Any]
    customers: list[RoutedCustomer]
    decisions: list[Decision]
    state: PlanState


def _row_version() -> RawSQL:
    """The version of a customer's row on PostgreSQL: the transaction that wrote it
    (``xmin``). Any write of the row makes a new version, written by another transaction
    than the one a read without locks saw (which had committed), so the same id with the
    same version is the same row."""
    table = connection.ops.quote_name(Customer._meta.db_table)
    return RawSQL(f"{table}.xmin::text::bigint", (), output_field=BigIntegerField())


def _page(backlog: QuerySet[Customer], after: tuple[int, int] | None) -> QuerySet[Customer]:
    """The backlog past ``(pool, id)`` in keyset order."""
    if after is None:
        return backlog
    pool_id, pk = after
    return backlog.filter(Q(pool_id__gt=pool_id) | Q(pool_id=pool_id, pk__gt=pk))


def _advanced(roster: Roster, loads: Mapping[int, Load]) -> Roster:
    """``roster`` as the next batch will count it if nothing but this plan moves: each rep
    with the loads the plan left."""

    def moved(candidate: Candidate) -> Candidate:
        load = loads.get(candidate.rep_id)
        if load is None:
            return candidate
        return replace(
            candidate,
            holdings=load.holdings,
            won_holdings=load.won_holdings,
            assigned_today=load.assigned_today,
        )

    return Roster(
        {team: [moved(c) for c in members] for team, members in roster.by_team.items()},
        {rep: moved(c) for rep, c in roster.users.items()},
    )


class Runner:
    """The state of one run; ``execute`` walks the batches. ``carried``: what an import's
    earlier runs read and this one may take over (``Carried``)."""

    def __init__(
        self, actor: User | None, options: RunOptions, carried: Carried | None = None
    ) -> None:
        self.actor = actor
        self.options = options
        carried = carried or Carried()
        self.rule_set = active_rules(options.pool)
        self.state = PlanState.fresh(options.seed)
        self.result = RunResult(self._start_run())
        self.rosters: dict[int, Roster] = {}
        self.reps_by_team, self.rep_ids = reps_reached(self.rule_set)
        self.cursor_keys = pointer_keys(self.rule_set, self.reps_by_team)
        self.rule_names = {rule.rule_id: rule.name for rule in self.rule_set.rules}
        self.pools: dict[int, Pool] = {}
        self.applier = Applier(self.rule_set.rules, self.reps_by_team, self.result.run.pk)
        self.eligible_sets = EligibleSets(self.result.run)
        self.cursor_rows: dict[cursors.Key, RoutingCursor] = {}
        self.profiles: dict[int, RepProfile] | None = None  # as this batch locked them
        self.reps_locked = False  # whether this batch locked every rep first (``_batch``)
        self.held_locks: frozenset[int] = frozenset()  # the reps whose profile rows it locked
        # the receivers' counts this batch keeps while it holds every rep's lock (``_fast``)
        self.tallies: assign_statements.Tallies | None = None
        self.ledger_mark = 0  # the ledger's end when the current roster was counted
        self.pacer: Pacer | None = None  # the backlog's batch sizes in a real run (``_walk``)
        self.assigned_today = carried.assigned_for(self.rep_ids, options.now)
        self.page_at: tuple[tuple[int, int] | None, int] = (None, 0)  # the batch's page
        self.ahead: ThreadPoolExecutor | None = None  # plans the next page (``_ahead_planner``)
        self.pending: Future[Ahead | None] | None = None
        self.planned_ahead = 0  # batches that took the plan made ahead
        self.scoring: Scoring = NO_MODEL
        if self.rule_set.has_smart:
            if carried.scoring is None:
                carried.scoring = scoring(options.now)
            self.scoring = carried.scoring

    @property
    def real(self) -> bool:
        return not self.options.dry_run

    @property
    def locks_reps(self) -> bool:
        """Whether each batch locks every rep the rules reach (the set-based path)."""
        return self.real and self.result.run.apply_mode == ApplyMode.BULK

    def _start_run(self) -> AssignmentRun:
        options = self.options
        return AssignmentRun.objects.create(
            started_at=timezone.now(),
            now=options.now,
            dry_run=options.dry_run,
            trigger=options.trigger,
            pool=options.pool,
            seed=options.seed,
            triggered_by=self.actor,
            apply_mode="" if options.dry_run else self._apply_mode(),
        )

    def _apply_mode(self) -> str:
        if self.options.apply_mode:
            mode = self.options.apply_mode
        else:
            ids = self.options.customer_ids
            small = ids is not None and len(ids) <= SERVICE_PATH_MAX
            mode = ApplyMode.SERVICE if small else ApplyMode.BULK
        if self.options.unwritten is not None and mode != ApplyMode.BULK:
            raise ValueError("customers not written yet are granted only on the set-based path")
        return mode

    def backlog(self) -> QuerySet[Customer]:
        customers = Customer.objects.filter(status=CustomerStatus.POOLED, merged_into__isnull=True)
        if self.options.pool is not None:
            customers = customers.filter(pool=self.options.pool)
        customers = customers.annotate(hint=first_rule(self.rule_set, connection.vendor))
        if self.ahead is not None:  # the rows' versions, for the page planned ahead
            customers = customers.annotate(version=_row_version())
        if self.options.customer_ids is not None:
            return customers
        return customers.filter(hint__isnull=False)

    def execute(self) -> RunResult:
        started = time.perf_counter()
        if self.rule_set.rules:
            if self.real:
                cursors.ensure(self.cursor_keys)
            else:
                self.state.cursors.update(cursors.read(self.cursor_keys))
            with full_collections_held():
                self._walk()
        self._finish(time.perf_counter() - started)
        return self.result

    def _walk(self) -> None:
        """The named customers in chunks of ascending ids, or the backlog in keyset order
        ``(pool, id)``; each batch in ``(pool, id)`` order."""
        backlog = self.backlog().order_by("pool_id", "pk")
        size = self.options.batch_size
        if self.options.customer_ids is not None:
            ids = sorted(set(self.options.customer_ids))
            total = len(ids)
            if self.options.unwritten is not None:
                size = max(size, total)  # one batch (``RunOptions.unwritten``)
            for start in range(0, len(ids), size):
                chunk = ids[start : start + size]
                self._run_batch(backlog.filter(pk__in=chunk), total, chunk)
            return
        total = backlog.count() if self.options.progress else 0
        pacer = self.pacer = Pacer(size) if self.real else None  # a preview takes no lock
        after: tuple[int, int] | None = None
        with self._ahead_planner():
            backlog = self.backlog().order_by("pool_id", "pk")  # with versions when ahead
            while True:
                self.page_at = (after, pacer.size() if pacer else size)
                batch = self._run_batch(_page(backlog, after)[: self.page_at[1]], total)
                if not batch:
                    break
                if pacer:
                    pacer.wrote(len(batch))
                after = (batch[-1]["pool_id"], batch[-1]["id"])

    def _run_batch(
        self, page: QuerySet[Customer], total: int, ids: list[int] | None = None
    ) -> list[dict[str, Any]]:
        """One batch, in its own transaction when real."""
        with transaction.atomic() if self.real else nullcontext():
            batch = self._batch(page, ids)
            if batch:
                self._plan_and_apply(batch)
            if batch and self.pacer and ids is None:
                self.pacer.before_commit()
        if batch:
            self.result.run.batches += 1
            if self.options.progress:
                self.options.progress(len(self.result.decisions), total)
        return batch

    def _batch(self, page: QuerySet[Customer], ids: list[int] | None) -> list[dict[str, Any]]:
        """The batch's rows, in ``(pool, id)`` order; those the caller wrote in this
        transaction (``RunOptions.rows``) are taken as written, the others read (under their
        locks on the set-based path)."""
        if self.real:
            rows = cursors.lock(self.cursor_keys)
            self.state.cursors.update(cursors.states(rows))
            self.cursor_rows = rows
            if self.locks_reps:
                self.profiles = lock_reps(*self.rep_ids)
                page = page.select_for_update(of=("self",))
            elif ids is None or len(ids) > 1:
                # Decision by decision, the receivers would be locked in the batch's
                # customer order; so every rep the rules reach is locked first, in id order,
                # as every writer of several reps locks them, and no two wait in a cycle.
                self.held_locks = lock_rep_rows(self.rep_ids)
                self.reps_locked = True
                self.tallies = assign_statements.Tallies()
            else:
                # One customer (a registration) locks only its receiver; an attempt refused
                # at the cap or quota lets its rep's lock go (``_attempt``).
                self.reps_locked, self.held_locks = False, frozenset()
                self.tallies = None
        written = self.options.rows
        if written is None or ids is None:
            found = self._read_ahead(page) if self.ahead is not None else None
            if found is None:
                found = customer_rows(page, ("version",) if self.ahead is not None else ())
            if self.pacer and ids is None:
                self.pacer.holding()  # the reps, and the customers read with their locks
            return found
        batch = [dict(written[pk]) for pk in ids if pk in written]
        if len(batch) < len(ids):
            unread = [pk for pk in ids if pk not in written]
            batch.extend(customer_rows(page.filter(pk__in=unread)))
        batch.sort(key=lambda row: (row["pool_id"], row["id"]))
        return batch

    @contextmanager
    def _ahead_planner(self) -> Iterator[None]:
        """While a batch of a backlog run on PostgreSQL waits for the server (its writes, its
        commit), a thread of the run's reads the next page on a connection of its own,
        without locks, and plans it from the state this batch's plan leaves (``_plan_next``):
        the plan is the run's Python time, and the batch's writes are the server's. The next
        batch takes that plan only if what it reads under its locks is what the plan was
        made from (``_planned_ahead``): the same page, the same rows, the same roster with
        the loads this batch's plan left, the same pointers; anything else (a claim, a
        refused grant, another run, a pacer that shrank the batch) and it plans again from
        what it read, as every batch did before. So a run decides exactly what it decided
        without planning ahead, and what the preview shows. Not inside a caller's
        transaction (the other connection would not see its rows), nor on SQLite (one
        writer, and one interpreter for both threads' Python)."""
        if not (
            PLANS_AHEAD
            and self.locks_reps
            and self.options.customer_ids is None
            and connection.vendor == "postgresql"
            and not connection.in_atomic_block
        ):
            yield
            return
        self.ahead = ThreadPoolExecutor(max_workers=1, thread_name_prefix="plan-ahead")
        try:
            yield
        finally:
            pending, self.pending = self.pending, None
            if pending is not None:
                pending.cancel()
            self.ahead.submit(connections.close_all)  # the thread's own connection
            self.ahead.shutdown(wait=True)
            self.ahead = None

    def _plan_next(self, rows: list[dict[str, Any]], roster: Roster) -> None:
        """Start planning the page after ``rows`` (this batch, one segment) in the run's
        thread, from a copy of the state this batch's plan left."""
        if self.ahead is None or self.pacer is None:
            return
        state = copy.deepcopy(self.state)
        state.touched = set()
        starts_from = {key: copy.deepcopy(state.cursors.get(key)) for key in self.cursor_keys}
        at = ((rows[-1]["pool_id"], rows[-1]["id"]), self.pacer.unwaited_next())
        self.pending = self.ahead.submit(
            self._plan_page, at, state, _advanced(roster, state.loads), starts_from
        )

    def _plan_page(
        self,
        at: tuple[tuple[int, int], int],
        state: PlanState,
        roster: Roster,
        starts_from: dict[cursors.Key, Any],
    ) -> Ahead | None:
        """In the run's thread: the page at ``at`` read without locks and planned."""
        (pool_id, _pk), size = at
        backlog = self.backlog().order_by("pool_id", "pk")
        rows = customer_rows(_page(backlog, at[0])[:size], ("version",))
        if not rows or rows[-1]["pool_id"] != pool_id:
            return None  # the end, or another pool's roster
        # each from a copy of its row: the rows stay as the next batch will read them
        customers = [routed_customer(dict(row), row["hint"]) for row in rows]
        decided = plan(
            customers,
            self.rule_set.rules,
            roster.by_team,
            users=roster.users,
            state=state,
            scoring=self.scoring,
        ).decisions
        return Ahead(at, rows, roster, starts_from, customers, decided, state)

    def _read_ahead(self, page: QuerySet[Customer]) -> list[dict[str, Any]] | None:
        """The rows of the page planned ahead, if every row the batch locks is the version
        the plan read (``_row_version``): then only the ids and versions are read."""
        pending = self.pending
        ahead = pending.result() if pending is not None else None
        if ahead is None or ahead.at != self.page_at:
            return None
        locked = list(page.values_list("id", "version"))  # type: ignore[misc]  # annotated
        if locked != [(row["id"], row["version"]) for row in ahead.rows]:
            return None
        return ahead.rows

    def _planned_ahead(self, rows: list[dict[str, Any]], roster: Roster) -> Ahead | None:
        """The page planned ahead, if this batch is what it was planned from; the run's
        state then goes on from where that plan left it."""
        pending, self.pending = self.pending, None
        if pending is None:
            return None
        ahead = pending.result()
        if (
            ahead is None
            or ahead.at != self.page_at
            or ahead.rows != rows
            or ahead.roster != roster
            or ahead.starts_from != {key: self.state.cursors.get(key) for key in self.cursor_keys}
        ):
            return None
        self.state = ahead.state
        self.planned_ahead += 1
        return ahead

    def _roster(self, pool_id: int) -> Roster:
        if pool_id not in self.pools:
            self.pools[pool_id] = Pool.objects.select_related("claim_policy", "recycle_policy").get(
                pk=pool_id
            )
        if self.real or pool_id not in self.rosters:
            if self.locks_reps:  # before counting: ``assign_many`` trusts the counts until it moves
                self.ledger_mark = ledger_mark()
            given = self.assigned_today.read() if self.locks_reps else None
            roster = build_roster(
                self.rule_set,
                self.reps_by_team,
                self.pools[pool_id],
                self.options.now,
                given,
                excluded=self.options.excluded_reps,
                profiles=self.profiles if self.locks_reps else None,
            )
            self.rosters[pool_id] = roster
            if self.real:
                self.state.reload(roster.everyone)
        return self.rosters[pool_id]

    def _plan_and_apply(self, batch: list[dict[str, Any]]) -> None:
        if self.options.unwritten is not None and batch[0]["pool_id"] != batch[-1]["pool_id"]:
            raise ValueError("customers not written yet are granted in one pool's segment")
        start = 0
        for end in range(1, len(batch) + 1):
            if end == len(batch) or batch[end]["pool_id"] != batch[start]["pool_id"]:
                self._segment(batch[start:end], whole=start == 0 and end == len(batch))
                start = end
        if self.real:
            moved = {key: self.state.cursors[key] for key in self.state.touched}
            cursors.save(self.cursor_rows, moved)
        self.state.touched.clear()

    def _segment(self, rows: list[dict[str, Any]], whole: bool = False) -> None:
        """Plan (and in a real run apply) customers of one pool; ``whole``: the batch's only
        segment, which may have been planned ahead (``_ahead_planner``)."""
        roster = self._roster(rows[0]["pool_id"])
        ahead = self._planned_ahead(rows, roster) if whole else None
        if ahead is not None:
            customers, decided = ahead.customers, ahead.decisions
        else:
            customers = [routed_customer(row, row["hint"]) for row in rows]
            decided = plan(
                customers,
                self.rule_set.rules,
                roster.by_team,
                users=roster.users,
                state=self.state,
                scoring=self.scoring,
            ).decisions
        if self.real:
            if whole:
                self._plan_next(rows, roster)
            self._apply(decided, customers, {row["id"]: row for row in rows}, roster)
        self.result.decisions.extend(decided)
        self.result.customer_names.update((row["id"], row["name"]) for row in rows)

    def _apply(
        self,
        decided: list[Decision],
        customers: list[RoutedCustomer],
        rows: dict[int, dict[str, Any]],
        roster: Roster,
    ) -> None:
        """Apply the segment: set-based at once (its rows were read pooled under their locks
        in this transaction, and the reps' profiles and loads that ``assign_many`` re-checks
        are the roster's, read under the reps' locks for this segment), or decision by
        decision on the small path."""
        now = self.options.now
        if self.result.run.apply_mode == ApplyMode.SERVICE:
            given: list[Customer] = []
            for index, customer in enumerate(customers):
                decided[index] = self._apply_one(decided[index], customer, given)
            if given:
                notify_many(assign_statements.assigned_drafts(given))
        else:
            loads = self._loads(roster)
            self.applier.apply(
                decided,
                now,
                locked=rows,
                pools=self.pools,
                loads=loads,
                unwritten=self.options.unwritten,
            )
        run_id, at, as_json = self.result.run.pk, db_datetime(now), json_adapter()
        stored = self.eligible_sets.stored
        insert_rows(
            AssignmentDecision,
            DECISION_FIELDS,
            [
                (
                    *(run_id, d.customer_id, d.rule_id, d.owner_id, d.outcome.value, d.reason),
                    *(as_json(stored(d.explanation)), at),
                )
                for d in decided
            ],
        )
        self.eligible_sets.save()

    def _loads(self, roster: Roster) -> Loads | None:
        """The reps' counts as this segment's roster read them under the locks this batch
        holds (the holdings, and ``AssignedToday``, in ``_roster``): what ``assign_many``
        would count again."""
        if not self.locks_reps:
            return None
        everyone = roster.everyone
        return Loads(
            held={c.rep_id: (c.holdings, c.won_holdings) for c in everyone},
            given={c.rep_id: c.assigned_today for c in everyone},
            mark=self.ledger_mark,
        )

    def _apply_one(
        self, decision: Decision, customer: RoutedCustomer, given: list[Customer]
    ) -> Decision:
        """Apply one decision: the plain case as a few precompiled statements
        (``assign_statements.assign_by_rule``, whose customer joins ``given`` for its
        notification), anything else through ``assign_many``; when the rep it names turns out
        to be at their cap or quota, plan the customer again from loads re-read now, until a
        rep takes it or none can (a rep refused once is never tried again for it)."""
        refused: set[int] = set()
        while decision.outcome is Outcome.ASSIGNED and decision.owner_id is not None:
            owner = decision.owner_id
            fast, refusal = self._attempt(decision, customer)
            if fast is not None:
                given.append(fast)
                return decision
            if refusal is None or refusal.code not in FALLS_THROUGH:
                return decision
            refused.add(owner)
            assert customer.pool_id is not None  # the backlog holds pooled customers only
            roster = self._roster(customer.pool_id)
            again = plan(
                [customer],
                self.rule_set.rules,
                roster.by_team,
                users=roster.users,
                state=self.state,
                scoring=self.scoring,
            ).decisions[0]
            if again.outcome is Outcome.ASSIGNED and again.owner_id in refused:
                return decision  # the loads say they could, the re-check said no: stay pooled
            decision = again
        return decision

    def _attempt(
        self, decision: Decision, customer: RoutedCustomer
    ) -> tuple[Customer | None, HighSeasError | None]:
        """One try at the decision: the fast path's customer, or ``assign_many``'s refusal
        (``None`` when it gave the customer). Unless every rep was locked first, the try runs
        in a savepoint that a refusal at the cap or quota rolls back, which on PostgreSQL
        also lets go of the refused rep's lock, so that trying the next rep never holds two."""
        savepoint = None if self.reps_locked else transaction.savepoint()
        fast = self._fast(decision)
        refusal = None
        if fast is None:
            applied = self.applier.apply([decision], self.options.now, pools=self.pools)
            refusal = applied.get(customer.customer_id)
            if self.tallies is not None:  # the full path may have written: count again
                self.tallies.clear()
        if savepoint is not None:
            if refusal is not None and refusal.code in FALLS_THROUGH:
                transaction.savepoint_rollback(savepoint)
            else:
                transaction.savepoint_commit(savepoint)
        return fast, refusal

    def _fast(self, decision: Decision) -> Customer | None:
        """The decision through the precompiled statements when it is the plain case, else
        ``None`` with nothing written."""
        assert decision.owner_id is not None
        receiver = self.receivers.get(decision.owner_id)
        if receiver is None:
            return None  # the rep is gone: ``assign_many`` says so
        grant = self.applier.grant(decision)
        return assign_statements.assign_by_rule(
            grant.authority,
            decision.customer_id,
            receiver,
            reason=grant.reason,
            daily_quota=grant.daily_quota,
            now=self.options.now,
            receiver_locked=decision.owner_id in self.held_locks,
            tallies=self.tallies,
        )

    @cached_property
    def receivers(self) -> dict[int, User]:
        """The reps the rules reach, by id (who they are; what they may take is read from
        the database under their lock at each assignment)."""
        return User.objects.in_bulk(self.rep_ids)

    def _finish(self, seconds: float) -> None:
        run = self.result.run
        decisions = self.result.decisions
        run.considered = len(decisions)
        run.assigned = sum(1 for d in decisions if d.outcome is Outcome.ASSIGNED)
        run.unassigned = run.considered - run.assigned
        run.unassigned_reasons = dict(
            Counter(d.reason for d in decisions if d.outcome is not Outcome.ASSIGNED)
        )
        run.duration_ms = round(seconds * 1000, 3)
        run.finished_at = timezone.now()
        run.save()
