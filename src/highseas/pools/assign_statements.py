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
"""

from __future__ import annotations

from datetime import datetime
from functools import cache
from typing import Any

from django.db import connection

from highseas.accounts.models import Team, User
from highseas.customers.models import Customer
from highseas.engine.claims import refuse_cap
from highseas.engine.ownership import EventKind, Status
from highseas.pools import claim_statements
from highseas.pools.models import Pool
from highseas.pools.reasons import Reason


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
