"""Departure handover (离职交接, SPEC §10 "People change"): every customer a departing rep
still owns goes to one named colleague, through the assignment rules, or back to its pool.

It lives with the rules (above ``pools``) because one of its targets is a rule run; every
move goes through the ownership services, so each is a compare-and-set with its ledger row
(reason "Departure handover"), its caps and its notifications:

- a colleague: ``ownership.transfer`` — a receiver at their holding cap makes that customer a
  ``problem`` (``holding_cap_reached``), not a failure of the whole job; a freeze ends with
  the transfer (its ``unfrozen`` row);
- ``"pools"``: ``ownership.release`` into the customer's own pool;
- ``"rules"``: the release, then the customers routed by a real rule run
  (``routing.services.assign_new_customers``), the rules acting as themselves; a customer no
  rule takes stays pooled and is listed as a problem with the run's outcome.

Open deals and open tasks of the departing rep follow a customer to its new owner.

Resumable without a job table: the rep's remaining customers are the state. The run walks
them in batches keyed by id, each batch its own transaction; killed and rerun, it continues
with what the rep still owns, and a customer already moved is no longer theirs, so it is never
moved twice. A preview (``dry_run``) runs the very same code in a transaction that is rolled
back, so it says exactly who would get how many and which problems.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from highseas.accounts.models import User
from highseas.accounts.visibility import Viewer
from highseas.customers.choices import CustomerStatus, DealStage
from highseas.customers.models import Customer, Deal, Task
from highseas.engine.errors import ErrorCode, HighSeasError
from highseas.pools import facts, ownership
from highseas.pools.authority import require_receiver
from highseas.pools.reasons import HANDOVER, Reason
from highseas.routing.runs import lock_routing
from highseas.routing.services import Trigger, assign_new_customers

BATCH_SIZE = 50
Target = int | Literal["rules", "pools"]
TARGETS = ("rules", "pools")


@dataclass
class HandoverReport:
    rep_id: int
    to: Target
    dry_run: bool
    moved: list[dict[str, Any]] = field(default_factory=list)
    problems: list[dict[str, Any]] = field(default_factory=list)
    remaining: int = 0  # customers the rep still owns afterwards (those with problems)

    def by_owner(self) -> list[dict[str, Any]]:
        """Who gets how many (``to_owner`` null: left in a pool), most first."""
        counts = Counter(entry["to_owner"] for entry in self.moved)
        return [{"to_owner": owner, "customers": n} for owner, n in counts.most_common()]

    def as_dict(self) -> dict[str, Any]:
        return {
            "user": self.rep_id,
            "to": self.to,
            "dry_run": self.dry_run,
            "moved": self.moved,
            "by_owner": self.by_owner(),
            "problems": self.problems,
            "remaining": self.remaining,
        }


class _Rollback(Exception):
    """Unwinds a preview's transaction, carrying its report out."""

    def __init__(self, report: HandoverReport) -> None:
        super().__init__("preview")
        self.report = report


def handover_reason() -> Reason:
    return Reason(HANDOVER)


def departing_rep(viewer: Viewer, user_id: int) -> User:
    """Admins hand over anyone's customers; a manager those of the users of their subtree."""
    if not viewer.is_manager_or_admin:
        raise HighSeasError(
            ErrorCode.PERMISSION_DENIED,
            _("Only a manager or an administrator may hand over a rep's customers."),
        )
    rep = viewer.users().filter(pk=user_id).first()
    if rep is None:
        raise HighSeasError(ErrorCode.NOT_FOUND, _("No such user."))
    if not viewer.is_admin and rep.team_id not in viewer.subtree_team_ids:
        raise HighSeasError(
            ErrorCode.PERMISSION_DENIED,
            _("You may hand over only the customers of the reps you manage."),
        )
    return rep


def receiver_of(viewer: Viewer, rep: User, to: Target) -> User | None:
    if isinstance(to, str):
        if to not in TARGETS:
            raise HighSeasError(
                ErrorCode.VALIDATION_ERROR,
                _("Hand the customers to a colleague, to the rules or to the pools."),
                errors={"to": ["invalid"]},
            )
        return None
    receiver = User.objects.filter(pk=to).first()
    if receiver is None:
        raise HighSeasError(
            ErrorCode.VALIDATION_ERROR, _("No such user."), errors={"to": ["not found"]}
        )
    if receiver.pk == rep.pk:
        raise HighSeasError(
            ErrorCode.VALIDATION_ERROR,
            _("Hand the customers to someone else."),
            errors={"to": ["unchanged"]},
        )
    require_receiver(viewer, receiver)
    return receiver


def handover(
    viewer: Viewer,
    user_id: int,
    *,
    to: Target,
    dry_run: bool,
    now: datetime | None = None,
    batch_size: int = BATCH_SIZE,
    after_batch: Callable[[int], None] | None = None,
) -> HandoverReport:
    """Hand over every customer ``user_id`` owns (see the module). ``after_batch`` is called
    with the number of batches done after each committed batch."""
    now = now or timezone.now()
    rep = departing_rep(viewer, user_id)
    receiver = receiver_of(viewer, rep, to)
    report = HandoverReport(rep_id=rep.pk, to=to, dry_run=dry_run)
    if not dry_run:
        return _walk(viewer, rep, receiver, report, now, batch_size, after_batch)
    try:
        with transaction.atomic():
            _walk(viewer, rep, receiver, report, now, batch_size, None)
            raise _Rollback(report)
    except _Rollback as preview:
        return preview.report


def _owned(rep: User) -> Any:
    return Customer.objects.filter(owner_id=rep.pk, merged_into__isnull=True)


def _walk(
    viewer: Viewer,
    rep: User,
    receiver: User | None,
    report: HandoverReport,
    now: datetime,
    batch_size: int,
    after_batch: Callable[[int], None] | None,
) -> HandoverReport:
    last_id, batches = 0, 0
    while True:
        with transaction.atomic():
            # The ownership services' lock order: the reps first, then the customers; a
            # handover to the rules routes each batch, so it takes what the run will lock
            # first (the pointers, then every rep the rules reach) with the departing rep.
            if report.to == "rules":
                lock_routing([rep.pk])
            facts.lock_reps(*[u.pk for u in (rep, receiver) if u is not None])
            ids = list(
                _owned(rep)
                .filter(pk__gt=last_id)
                .order_by("pk")
                .select_for_update(of=("self",))
                .values_list("pk", flat=True)[:batch_size]
            )
            if not ids:
                break
            _batch(viewer, rep, receiver, ids, report, now)
        last_id, batches = ids[-1], batches + 1
        if after_batch is not None:
            after_batch(batches)
    report.remaining = _owned(rep).count()
    return report


def _batch(
    viewer: Viewer,
    rep: User,
    receiver: User | None,
    ids: list[int],
    report: HandoverReport,
    now: datetime,
) -> None:
    actor, reason = viewer.user, handover_reason()
    released: list[int] = []
    statuses = dict(_owned(rep).filter(pk__in=ids).values_list("pk", "status"))
    frozen = {pk for pk, status in statuses.items() if status == CustomerStatus.FROZEN}
    for customer_id in ids:
        if customer_id not in statuses:
            continue  # moved by someone else meanwhile: it is not the departing rep's to give
        try:
            if receiver is not None:
                moved = ownership.transfer(actor, customer_id, receiver, reason=reason, now=now)
            else:
                moved = ownership.release(actor, customer_id, reason=reason, now=now)
        except HighSeasError as refusal:
            report.problems.append({"customer": customer_id, "code": refusal.code.value})
            continue
        if report.to == "rules":
            released.append(customer_id)
        else:
            owner_id, pool_id = moved.customer.owner_id, moved.customer.pool_id
            report.moved.append(_moved(rep, customer_id, owner_id, pool_id, frozen))
    if released:
        _route(viewer, rep, released, report, now, frozen)


def _route(
    viewer: Viewer,
    rep: User,
    released: list[int],
    report: HandoverReport,
    now: datetime,
    frozen: set[int],
) -> None:
    """The released customers through the rules, in this batch's transaction."""
    # the departing rep is out of the rules' reach, so no customer goes back to them
    result = assign_new_customers(
        viewer.user,
        released,
        trigger=Trigger.MANUAL,
        now=now,
        seed=rep.pk,
        excluded_reps=frozenset({rep.pk}),
    )
    outcomes = {d.customer_id: d.outcome.value for d in result.decisions} if result else {}
    rows = Customer.objects.filter(pk__in=released).values_list("pk", "owner_id", "pool_id")
    for customer_id, owner_id, pool_id in sorted(rows):
        if owner_id is None:
            code = outcomes.get(customer_id, "no_rule")
            report.problems.append({"customer": customer_id, "code": code})
        report.moved.append(_moved(rep, customer_id, owner_id, pool_id, frozen))


def _moved(
    rep: User, customer_id: int, owner_id: int | None, pool_id: int | None, frozen: set[int]
) -> dict[str, Any]:
    """One ``moved`` entry; with a new owner, the departing rep's open deals and open tasks of
    the customer follow it (``deals``, ``tasks``: how many did). A freeze ends either way."""
    deals = tasks = 0
    if owner_id is not None:
        deals = (
            Deal.objects.filter(customer_id=customer_id, owner_id=rep.pk)
            .exclude(stage__in=[DealStage.WON, DealStage.LOST])
            .update(owner_id=owner_id)
        )
        tasks = Task.objects.filter(
            customer_id=customer_id, assignee_id=rep.pk, done_at__isnull=True
        ).update(assignee_id=owner_id)
    return {
        "customer": customer_id,
        "to_owner": owner_id,
        "to_pool": pool_id,
        "was_frozen": customer_id in frozen,
        "deals": deals,
        "tasks": tasks,
    }
