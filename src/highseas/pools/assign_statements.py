"""A manager's assignment of one pooled customer as a few statements built once per process
(SPEC §5): the claim's statements (``claim_statements``) read for the receiver, plus one for
the manager's authority.

1. lock the receiver and read, in one statement, the customer, its pool's policies, the
   receiver's overrides, leave, performance tier and holdings (``claim_statements.read``);
2. read the manager's authority in one statement: whether they belong to the customer's pool
   and whether the receiver's team is in the subtree they manage;
3. the compare-and-set from pooled, the ``assigned`` ledger row and the recycle schedule
   under the receiver's leave (``claim_statements.write_owned``).

Only the plain case is decided here: a pooled customer of an ordinary pool, a manager (or
admin) who may give it, an active receiver they may give to, under the receiver's cap. Anything
else answers ``None`` before writing, and ``ownership.assign`` takes the full path, which
refuses with its own typed error, asks for the cap override, or routes a reassign queue's
customer home. The fast path never accepts what the full path would refuse.

``assign_by_rule`` is the same for one decision of an assignment run applied one by one (the
run's small path, ``routing.runs``): the rule acts as itself (``authority.RuleAuthority``), as
``pools.bulk_assign.assign_many`` would act for it, with the same checks — the customer pooled
in a pool the rule may act on, a receiver the rule reaches who is active and not on leave today,
under the holding cap and the daily quota (the pool's, the rep's and the rule's, the strictest)
counted from the database under the receiver's lock — in three statements instead of twelve:
on PostgreSQL the receiver's lock (left out when the caller already holds it: a run that
locked every rep its rules reach), one read of every fact (``_rule_facts_sql``), and the
compare-and-set with its ledger row (``claim_statements.write_owned``); on SQLite, whose write
transaction serializes writers, the read, the compare-and-set and the ledger row. The ledger
row names the rule (no actor, ``actor_label`` ``system:rule:<id>``). A run that holds every
receiver's lock for its batch keeps each receiver's counts (``Tallies``), so only a receiver's
first grant counts its holdings and what it was given today; the next ones read the facts
without them. Its notification is the caller's to write in the same transaction
(``assigned_drafts``). Anything else answers ``None`` with nothing written, and the caller
takes ``assign_many``, which refuses with its typed error.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache, lru_cache
from typing import Any

from django.db import connection
from django.utils import timezone
from django.utils.translation import gettext as _

from highseas.accounts import driver
from highseas.accounts.models import RepProfile, Team, User
from highseas.customers.choices import CustomerStage, DealStage
from highseas.customers.models import Customer, Deal
from highseas.engine.claims import refuse_cap
from highseas.engine.errors import HighSeasError
from highseas.engine.limits import ClaimLimits, RepOverrides, effective_limits, strictest
from highseas.engine.ownership import EventKind, Status
from highseas.engine.periods import day_start
from highseas.notify.services import Draft
from highseas.pools import claim_statements
from highseas.pools.authority import RuleAuthority, rule_refusal
from highseas.pools.facts import leave_covers, reps_read_only
from highseas.pools.models import ClaimPolicy, OwnershipEvent, Pool, RecyclePolicy
from highseas.pools.policies import CLAIM_LIMIT_FIELDS, RECYCLE_RULE_FIELDS, limits_from
from highseas.pools.reasons import Reason
from highseas.pools.rows import db_datetime


def _table(model: Any) -> str:
    return str(connection.ops.quote_name(model._meta.db_table))


@cache
def _authority_sql(vendor: str) -> str:
    """Whether the manager belongs to the pool (directly, as its admin, or through their team
    or one above it: ``visibility.member_pools``) and whether the receiver's team is in a
    subtree the manager manages (``visibility.subtree_team_ids``); named parameters ``actor``,
    ``pool``, ``team``."""
    team, user = _table(Team), _table(User)
    members = _table(Pool.member_users.through)
    admins = _table(Pool.admins.through)
    teams = _table(Pool.member_teams.through)
    actor_path = (
        f"(SELECT tp.path FROM {team} tp JOIN {user} u ON u.team_id = tp.id WHERE u.id = %(actor)s)"
    )
    return (
        "SELECT "
        f"(EXISTS (SELECT 1 FROM {members} m WHERE m.pool_id = %(pool)s "
        "AND m.user_id = %(actor)s)"
        f" OR EXISTS (SELECT 1 FROM {admins} a WHERE a.pool_id = %(pool)s "
        "AND a.user_id = %(actor)s)"
        f" OR EXISTS (SELECT 1 FROM {teams} t JOIN {team} tt ON tt.id = t.team_id "
        f"WHERE t.pool_id = %(pool)s AND {actor_path} LIKE tt.path || '%%')), "
        f"EXISTS (SELECT 1 FROM {team} m JOIN {team} r ON r.path LIKE m.path || '%%' "
        "WHERE m.manager_id = %(actor)s AND r.id = %(team)s)"
    )


def _may_give(actor: User, receiver: User, pool_id: int) -> bool:
    """``authority.require_manager_of`` (a pooled customer) and ``require_receiver``."""
    if actor.is_admin:
        return True
    if not actor.is_manager or receiver.team_id is None:
        return False
    with connection.cursor() as cursor:
        params = {"actor": actor.pk, "pool": pool_id, "team": receiver.team_id}
        cursor.execute(_authority_sql(connection.vendor), params)
        member, gives_to = cursor.fetchone()
    return bool(member) and bool(gives_to)


def assign(
    actor: User, customer_id: int, receiver: User, *, reason: Reason | str, now: datetime
) -> Customer | None:
    """The assignment when it is the plain case (see the module), else ``None`` with nothing
    written. Call inside a transaction."""
    if not receiver.is_active:
        return None
    row = claim_statements.read(receiver, customer_id, now)
    pooled = row["status"] == Status.POOLED.value and row["owner_id"] is None
    if not pooled or row["pool_id"] is None or row["pool_is_reassign_queue"]:
        return None
    if not _may_give(actor, receiver, row["pool_id"]):
        return None
    limits = claim_statements.limits(receiver, row)
    held = row["held"] if limits.count_won_in_cap else row["held_open"]
    if refuse_cap(limits.holding_cap, int(held)) is not None:
        return None
    return claim_statements.write_owned(
        row, receiver, kind=EventKind.ASSIGNED, actor=actor, reason=reason, policy_ref="", now=now
    )


# What the rule's statement reads, in order: the customer (``claim_statements``' names, which
# its scheduling and writing read), the pool, its claim policy (``cp_``) and recycle policy
# (``rp_``), the receiver's profile (``p_``), whether the user is active, and the counts.
RULE_ROW = (
    *claim_statements.CUSTOMER_FIELDS,
    *("pool_name", "pool_masked_fields", "cp_id"),
    *(f"cp_{name}" for name in CLAIM_LIMIT_FIELDS),
    "rp_id",
    *(f"rp_{name}" for name in RECYCLE_RULE_FIELDS),
    *("p_id", "p_is_active", "user_is_active"),
    *(f"p_{name}" for name in (*claim_statements.OVERRIDES, *claim_statements.LEAVE)),
    *("held", "held_open", "given_today", "open_deal", "won_until"),
)


@dataclass
class Tally:
    """A receiver's counts the rule's checks use, (all held, held not won, given today), as
    one statement read them under the receiver's lock, then kept by the grants written since
    (``Tallies``)."""

    held: int
    held_open: int
    given_today: int


class Tallies(dict[int, Tally]):
    """The receivers' counts for a caller that holds every receiver's lock for its whole
    transaction (a run that locked every rep its rules reach first, in id order; on SQLite,
    its write transaction): a receiver's first grant reads them with its facts, and its next
    grants read the facts without the two counts and take them from here, kept by each
    grant. They stay true because every writer that adds to a rep's holdings or to what it
    was given today takes that rep's lock first (``bulk_assign.Loads``). A writer that takes
    from them (a release, the sweep) can only make them high, so a grant they would refuse
    counts again in the database first, and decides from that count as it would without
    them. The caller clears them whenever anything but ``assign_by_rule`` writes in its
    transaction."""


@cache
def _rule_facts_sql(vendor: str, counted: bool = True) -> str:
    """Everything a rule's assignment checks and writes from, in one statement: no claim
    counts, cool-down, membership or performance tier, which the claim reads and a rule does
    not (``assign_many``'s checks); named parameters ``customer``, ``rep``, ``day``,
    ``next_day``. Not ``counted``: the receiver's holdings and what it was given today are
    left out (``NULL``), for a caller that keeps them (``Tallies``)."""
    customer, event, deal = _table(Customer), _table(OwnershipEvent), _table(Deal)
    # the receiver's holdings, and of them those not won, in one walk of the (owner, status,
    # stage) index
    held = (
        "(SELECT COUNT(*) AS held, "
        f"COUNT(*) FILTER (WHERE h.stage <> '{CustomerStage.WON.value}') AS held_open "
        f"FROM {customer} h WHERE h.owner_id = %(rep)s AND h.status IN ('owned', 'frozen')) hq"
    )
    given_today = (
        f"(SELECT COUNT(*) FROM {event} e WHERE e.to_owner_id = %(rep)s "
        f"AND e.kind = '{EventKind.ASSIGNED.value}' AND e.at >= %(day)s "
        "AND e.at < %(next_day)s)"
    )
    counts = ("hq.held", "hq.held_open", given_today) if counted else ("NULL",) * 3
    selected = (
        *(f"c.{name}" for name in claim_statements.CUSTOMER_FIELDS),
        *("pl.name", "pl.masked_fields", "cp.id"),
        *(f"cp.{name}" for name in CLAIM_LIMIT_FIELDS),
        "rp.id",
        *(f"rp.{name}" for name in RECYCLE_RULE_FIELDS),
        *("p.id", "p.is_active", "u.is_active"),
        *(f"p.{name}" for name in (*claim_statements.OVERRIDES, *claim_statements.LEAVE)),
        *counts,
        f"EXISTS (SELECT 1 FROM {deal} d WHERE d.customer_id = c.id "
        f"AND d.stage NOT IN ('{DealStage.WON.value}', '{DealStage.LOST.value}'))",
        f"(SELECT MAX(COALESCE(d.contract_end, d.won_at)) FROM {deal} d "
        f"WHERE d.customer_id = c.id AND d.stage = '{DealStage.WON.value}')",
    )
    assert len(selected) == len(RULE_ROW), (len(selected), len(RULE_ROW))
    held_join = f" CROSS JOIN {held}" if counted else ""
    return (
        f"SELECT {', '.join(selected)} FROM {customer} c{held_join} "
        f"JOIN {_table(User)} u ON u.id = %(rep)s "
        f"LEFT JOIN {_table(Pool)} pl ON pl.id = c.pool_id "
        f"LEFT JOIN {_table(ClaimPolicy)} cp ON cp.pool_id = c.pool_id "
        f"LEFT JOIN {_table(RecyclePolicy)} rp ON rp.pool_id = c.pool_id "
        f"LEFT JOIN {_table(RepProfile)} p ON p.user_id = u.id "
        "WHERE c.id = %(customer)s AND c.merged_into_id IS NULL"
    )


def _read_for_rule(
    receiver: User,
    customer_id: int,
    now: datetime,
    *,
    locked: bool = False,
    tally: Tally | None = None,
) -> dict[str, Any] | None:
    """Lock the receiver (on PostgreSQL, unless ``locked``: the caller holds that lock in this
    transaction; SQLite's write transaction already serializes writers), then read the rule's
    facts, with the receiver's counts taken from ``tally`` when there is one; ``None`` when
    the receiver has no profile yet or the customer is gone (the full path deals with both)."""
    start = day_start(now, timezone.get_default_timezone())
    params = {
        "customer": customer_id,
        "rep": receiver.pk,
        "day": db_datetime(start),
        "next_day": db_datetime(start + timedelta(days=1)),
    }
    if not _lock_held(locked):
        with connection.cursor() as cursor:
            cursor.execute(claim_statements.lock_sql(connection.vendor), [receiver.pk])
            if cursor.fetchone() is None:
                return None
    found = driver.fetch_one(_rule_facts_sql(connection.vendor, tally is None), params)
    if found is None:
        return None
    row = dict(zip(RULE_ROW, found, strict=True))
    row["id"] = customer_id
    if tally is not None:
        row["held"], row["held_open"] = tally.held, tally.held_open
        row["given_today"] = tally.given_today
    return row


def _lock_held(receiver_locked: bool) -> bool:
    """Whether the receiver's lock is held already: the caller's (``receiver_locked``), or on
    SQLite the write transaction itself, which excludes every other writer; or needs no
    taking (a rolled-back preview, ``facts.reps_read_not_locked``)."""
    return receiver_locked or connection.vendor == "sqlite" or reps_read_only()


def _pool_limits(row: dict[str, Any]) -> ClaimLimits:
    """The pool's own limits, as ``assign_many`` reads them (``policies.claim_limits``: no
    performance tier, which tunes what reps claim, not what rules give)."""
    if row["cp_id"] is None:
        return ClaimLimits()
    values = {name: row[f"cp_{name}"] for name in CLAIM_LIMIT_FIELDS}
    for flag in ("count_won_in_cap", "requires_approval"):
        values[flag] = bool(values[flag])
    return limits_from(values)


def _overrides(row: dict[str, Any]) -> RepOverrides:
    return RepOverrides(*(row[f"p_{name}"] for name in claim_statements.OVERRIDES))


@lru_cache(maxsize=256)
def _rule_actor(label: str) -> User:
    """What the ledger row names as acting: no user (no key), the rule's label. Made once per
    label: ``write_owned`` reads only its ``pk`` (``None``) and ``username``."""
    return User(username=label)


def assign_by_rule(
    authority: RuleAuthority,
    customer_id: int,
    receiver: User,
    *,
    reason: Reason | str,
    daily_quota: int | None,
    now: datetime,
    receiver_locked: bool = False,
    tallies: Tallies | None = None,
) -> Customer | None:
    """The rule's assignment when it is the plain case (see the module), else ``None`` with
    nothing written. ``daily_quota``: the rule's own quota for this rep. ``receiver_locked``:
    the caller already holds the receiver's profile row lock in this transaction (a run that
    locked every rep its rules reach, in id order), so the lock is not asked for again and
    the plain case is two statements on PostgreSQL. ``tallies``: the receivers' counts the
    caller keeps for its transaction (``Tallies``), so that a receiver's counts are read with
    its first grant only; used only while the receiver's lock is held (``receiver_locked``,
    or SQLite's write transaction), else the counts are read each time. Call inside a
    transaction; the caller tells the receiver (``assigned_drafts``) in it. The customer
    answered holds what that notification reads (``claim_statements.BRIEF_ROW``); its other
    fields load on use."""
    if not _lock_held(receiver_locked):
        tallies = None  # another writer may add to the counts between two grants
    kept = None if tallies is None else tallies.get(receiver.pk)
    # locks the receiver first, unless the caller holds that lock
    row = _read_for_rule(receiver, customer_id, now, locked=receiver_locked, tally=kept)
    if row is None or row["p_id"] is None:
        return None
    pooled = row["status"] == Status.POOLED.value and row["owner_id"] is None
    pool_id = row["pool_id"]
    if not pooled or pool_id is None:
        return None
    active = bool(row["user_is_active"]) and bool(row["p_is_active"])
    today = timezone.localtime(now).date()
    available = active and not leave_covers(*claim_statements.leave_dates(row), today)
    if rule_refusal(authority, pool_id, receiver.pk, available=available) is not None:
        return None
    limits = effective_limits(_pool_limits(row), _overrides(row))
    held = row["held"] if limits.count_won_in_cap else row["held_open"]
    capacity = strictest(limits.daily_quota, daily_quota)
    at_limit = refuse_cap(limits.holding_cap, int(held)) is not None or (
        capacity is not None and int(row["given_today"]) >= capacity
    )
    if at_limit and kept is not None and tallies is not None:
        # kept counts only ever run high (a release meanwhile): count again before refusing,
        # so that the answer is the one the counts in the database give
        del tallies[receiver.pk]
        return assign_by_rule(
            authority,
            customer_id,
            receiver,
            reason=reason,
            daily_quota=daily_quota,
            now=now,
            receiver_locked=receiver_locked,
            tallies=tallies,
        )
    if at_limit:
        return None
    tally = kept
    if tallies is not None and tally is None:
        tally = tallies[receiver.pk] = Tally(
            int(row["held"]), int(row["held_open"]), int(row["given_today"])
        )
    try:
        given = claim_statements.write_owned(
            row,
            receiver,
            kind=EventKind.ASSIGNED,
            actor=_rule_actor(authority.label),
            reason=reason,
            policy_ref="",
            now=now,
            whole=False,  # the run tells the receiver; nobody shows the row
        )
    except HighSeasError:  # taken meanwhile: nothing was written; the full path says why
        return None
    if tally is not None:
        tally.held += 1
        tally.held_open += row["stage"] != CustomerStage.WON.value
        tally.given_today += 1
    return given


def assigned_drafts(given: Sequence[Customer]) -> list[Draft]:
    """The receivers' notifications of customers given one by one, as ``assign_many`` tells
    the receiver of a single grant: one each, naming the customer."""
    return [
        (
            customer.owner_id,
            EventKind.ASSIGNED.value,
            _("A customer was given to you"),
            customer.name,
            customer.pk,
        )
        for customer in given
        if customer.owner_id is not None
    ]
