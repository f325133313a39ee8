"""The departure pages' reads and commands (离职交接 in the console): which reps a manager may
hand over, what a handover would do in words a manager reads, and the run itself.

Every number comes from ``routing.handover``: the preview is its ``dry_run`` (the run's own
code, rolled back), the result its real run, so the page shows exactly what the job does.
This module only adds the names, the grouping and the rep's totals the pages show:

1. ``departing_reps``: the people the viewer may hand over (admins: everyone but admins; a
   manager: the users of their subtree), with how many customers each still owns;
2. ``departure_facts``: one rep's totals (owned, frozen, open deals and open tasks that
   follow the customers), checked through the handover's own permission rule;
3. ``departure_plan``: the preview or the run, as receivers with their counts (and whether
   they stop at their cap), the problems by kind with the customers' names, and the totals.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db.models import Count, Q, QuerySet
from django.utils.translation import gettext as _

from highseas.accounts.models import Role, User
from highseas.accounts.visibility import Viewer
from highseas.customers.choices import CustomerStatus, DealStage
from highseas.customers.models import Customer, Deal, Task
from highseas.pools.models import Pool
from highseas.routing.handover import HandoverReport, Target, departing_rep, handover

SHOWN_CUSTOMERS = 50
OPEN_DEAL = ~Q(stage__in=[DealStage.WON, DealStage.LOST])


def _problem_labels() -> dict[str, str]:
    return {
        "holding_cap_reached": _("The receiver is at their holding cap"),
        "no_rule": _("No assignment rule takes it"),
        "unassigned": _("No rep the rules reach is available"),
        "kept_in_pool": _("A rule keeps it in the pool"),
        "state_conflict": _("Changed meanwhile"),
    }


@dataclass(frozen=True)
class DepartureFacts:
    rep: User
    owned: int
    frozen: int
    open_deals: int
    open_tasks: int


@dataclass(frozen=True)
class Receiver:
    user_id: int | None
    label: str
    customers: int
    at_cap: bool = False


@dataclass(frozen=True)
class ProblemGroup:
    code: str
    label: str
    count: int
    names: list[str]


@dataclass
class DeparturePlan:
    facts: DepartureFacts
    to: Target
    destination: str
    dry_run: bool
    moved: int = 0
    frozen: int = 0
    deals: int = 0
    tasks: int = 0
    remaining: int = 0
    receivers: list[Receiver] = field(default_factory=list)
    problems: list[ProblemGroup] = field(default_factory=list)
    rows: list[dict[str, Any]] = field(default_factory=list)

    @property
    def problem_count(self) -> int:
        return sum(group.count for group in self.problems)


def _people(viewer: Viewer) -> QuerySet[User]:
    if not viewer.is_manager_or_admin:
        return User.objects.none()
    users = viewer.users().exclude(role=Role.ADMIN).exclude(is_superuser=True)
    if not viewer.is_admin:
        users = users.filter(team_id__in=sorted(viewer.subtree_team_ids))
    return users


def departing_reps(viewer: Viewer) -> list[tuple[User, int]]:
    """Whom the viewer may hand over, with the customers each owns; most customers first."""
    owned = Count("customers", filter=Q(customers__merged_into__isnull=True), distinct=True)
    users = _people(viewer).select_related("team").annotate(owned=owned)
    ordered = users.order_by("-owned", "-is_active", "display_name", "username")[:500]
    return [(user, user.owned) for user in ordered]


def departure_facts(viewer: Viewer, user_id: int) -> DepartureFacts:
    """One rep's totals, for the viewer the handover itself allows (else its refusal)."""
    rep = departing_rep(viewer, user_id)
    owned = Customer.objects.filter(owner_id=rep.pk, merged_into__isnull=True)
    return DepartureFacts(
        rep=rep,
        owned=owned.count(),
        frozen=owned.filter(status=CustomerStatus.FROZEN).count(),
        open_deals=Deal.objects.filter(OPEN_DEAL, customer__in=owned, owner_id=rep.pk).count(),
        open_tasks=Task.objects.filter(
            customer__in=owned, assignee_id=rep.pk, done_at__isnull=True
        ).count(),
    )


def receivers_for(viewer: Viewer, user_id: int) -> QuerySet[User]:
    """The colleagues the viewer may name as the one receiver (``require_receiver``'s rule)."""
    people = viewer.users().filter(is_active=True).exclude(pk=user_id).exclude(role=Role.ADMIN)
    if not viewer.is_admin:
        people = people.filter(team_id__in=sorted(viewer.subtree_team_ids))
    held = Q(customers__status__in=[CustomerStatus.OWNED, CustomerStatus.FROZEN])
    return (
        people.select_related("team")
        .annotate(holdings=Count("customers", filter=held, distinct=True))
        .order_by("team__path", "display_name", "username")
    )


def destination_label(to: Target, receiver: User | None) -> str:
    if to == "rules":
        return _("Through the assignment rules")
    if to == "pools":
        return _("Back to their pools")
    return _("To %(name)s") % {"name": receiver.label if receiver else "?"}


def departure_plan(
    viewer: Viewer, user_id: int, *, to: Target, dry_run: bool, now: datetime | None = None
) -> DeparturePlan:
    """The preview (``dry_run``) or the run of the rep's handover, in the page's words."""
    facts = departure_facts(viewer, user_id)
    report = handover(viewer, user_id, to=to, dry_run=dry_run, now=now)
    receiver = User.objects.filter(pk=to).first() if isinstance(to, int) else None
    plan = DeparturePlan(
        facts=facts, to=to, destination=destination_label(to, receiver), dry_run=dry_run
    )
    _fill(plan, report)
    return plan


def _fill(plan: DeparturePlan, report: HandoverReport) -> None:
    moved = report.moved
    plan.moved = sum(1 for m in moved if m["to_owner"] is not None or report.to == "pools")
    plan.frozen = sum(1 for m in moved if m["was_frozen"])
    plan.deals = sum(m["deals"] for m in moved)
    plan.tasks = sum(m["tasks"] for m in moved)
    plan.remaining = report.remaining
    ids = [m["customer"] for m in moved] + [p["customer"] for p in report.problems]
    names = dict(Customer.objects.filter(pk__in=ids).values_list("pk", "name"))
    plan.receivers = _receivers(report)
    plan.problems = _problems(report, names)
    labels = {r.user_id: r.label for r in plan.receivers if r.user_id is not None}
    pools = dict(
        Pool.objects.filter(pk__in={m["to_pool"] for m in moved}).values_list("pk", "name")
    )
    plan.rows = [
        {
            **m,
            "name": names.get(m["customer"], f"#{m['customer']}"),
            "to_label": labels.get(m["to_owner"]) if m["to_owner"] else pools.get(m["to_pool"]),
        }
        for m in moved[:SHOWN_CUSTOMERS]
    ]


def _receivers(report: HandoverReport) -> list[Receiver]:
    counts = Counter(m["to_owner"] for m in report.moved if m["to_owner"] is not None)
    capped = {p["customer"] for p in report.problems if p["code"] == "holding_cap_reached"}
    labels = {u.pk: u.label for u in User.objects.filter(pk__in=list(counts))}
    found = [
        Receiver(owner, labels.get(owner, "?"), n, at_cap=False)
        for owner, n in counts.most_common()
    ]
    if capped and isinstance(report.to, int):
        found = [
            Receiver(r.user_id, r.label, r.customers, at_cap=r.user_id == report.to) for r in found
        ]
    pooled = Counter(m["to_pool"] for m in report.moved if m["to_owner"] is None)
    pool_names = dict(Pool.objects.filter(pk__in=list(pooled)).values_list("pk", "name"))
    found += [
        Receiver(None, _("Pool %(name)s") % {"name": pool_names.get(pool_id, "?")}, n)
        for pool_id, n in pooled.most_common()
    ]
    return found


def _problems(report: HandoverReport, names: dict[int, str]) -> list[ProblemGroup]:
    labels = _problem_labels()
    by_code: dict[str, list[int]] = {}
    for problem in report.problems:
        by_code.setdefault(problem["code"], []).append(problem["customer"])
    return [
        ProblemGroup(
            code,
            labels.get(code, code),
            len(ids),
            [names.get(i, f"#{i}") for i in ids[:SHOWN_CUSTOMERS]],
        )
        for code, ids in sorted(by_code.items(), key=lambda item: -len(item[1]))
    ]
