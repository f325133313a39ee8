"""Rep performance and fairness over a window, read within what the viewer sees (SPEC §10,
"Insights").

Who is counted (``reps_in_view``): admins see every active rep; a manager the active reps of
their team subtree (``Viewer.subtree_team_ids``); a rep only their own row of ``rep_figures``
and no team figure (``fairness`` refuses them with ``permission_denied``).

A window is ``[since, until)``: ``since`` included, ``until`` excluded. Default: the last 30
calendar days up to now, today included ("近30天": since the midnight 29 days before today's,
``snapshots.day_start``), so the default window is whole stored days and today; with only
``until`` given, the 30 days before it. Figures per rep (``rep_figures``):

- ``holdings``: customers the rep holds now (owned or frozen);
- ``claims``: ledger ``claimed`` entries to the rep in the window;
- ``recycled``: ledger ``recycled`` entries from the rep in the window;
- ``follow_up_rate``: of the customers the rep held at some moment of the window (the ledger
  shows them as owner at ``since``, or an entry in the window gives them the customer), the
  share with at least one activity of any kind written by the rep in the window; null when
  the rep held none;
- ``won`` / ``lost``: deals of which the rep is the owner, won (lost) in the window;
  ``win_rate = won / (won + lost)``, null when neither; ``revenue``: the sum of the won amounts;
- ``median_hours_to_first_contact``: for each gain in the window (a ledger entry that makes
  the rep the owner: created, claimed, assigned, transferred), the hours from the gain to the
  rep's first activity on that customer at or after it and before ``until``; gains not yet
  contacted are left out; null when there is none.

``fairness`` gives the Gini of the holdings, of the new customers (claims and assignments
in the window) and of the claims alone over the reps in view, zeros included; the customers
bouncing between the pool and the reps (``bouncing``: back to a pool — released or recycled —
from reps in view at least ``MIN_RETURNS`` times in the window; the total and the
``MOST_BOUNCING`` with most returns, named where the viewer sees them); and the hoarders: per
rep, the customers they own now that they have owned for more than ``HIGHSEAS_HOARDING_DAYS`` days
(default 30) without an effective follow-up (``last_effective_activity_at``) in those days.
Frozen customers are not hoarding: a freeze is bounded by the pool's policy.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db.models import Count, Exists, OuterRef, Q, QuerySet, Subquery, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from highseas.accounts.models import Role, User
from highseas.accounts.visibility import Viewer
from highseas.customers.choices import CustomerStatus, DealStage
from highseas.customers.models import Activity, Customer, Deal
from highseas.engine.errors import ErrorCode, HighSeasError
from highseas.engine.insights import gini, median
from highseas.engine.ownership import EventKind
from highseas.insights import cache, snapshots
from highseas.pools.models import OwnershipEvent

DEFAULT_DAYS = 30
LONGEST_WINDOW = timedelta(days=731)
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)
HELD = (CustomerStatus.OWNED, CustomerStatus.FROZEN)
# reps as SQL reads take them: their ids, or a subquery naming them (``among``)
Reps = Collection[int] | QuerySet[Any]
GAINS = (EventKind.CREATED, EventKind.CLAIMED, EventKind.ASSIGNED, EventKind.TRANSFERRED)
NEW_CUSTOMERS = (EventKind.CLAIMED, EventKind.ASSIGNED)
RETURNS = (EventKind.RELEASED, EventKind.RECYCLED)
MIN_RETURNS = 2
MOST_BOUNCING = 20


@dataclass(frozen=True)
class Window:
    since: datetime
    until: datetime


def _aware(moment: datetime | None) -> datetime | None:
    if moment is None or timezone.is_aware(moment):
        return moment
    return timezone.make_aware(moment)


def window(
    since: datetime | None = None, until: datetime | None = None, *, now: datetime | None = None
) -> Window:
    """The window asked for, bounded: both ends between 2000 and 2100, ``since`` before
    ``until``, at most two years long; a bad window is a ``validation_error`` naming the field."""
    since, until = _aware(since), _aware(until)
    errors: dict[str, list[str]] = {}
    for name, moment in (("since", since), ("until", until)):
        if moment is not None and not EARLIEST <= moment < LATEST:
            errors[name] = ["between 2000-01-01 and 2100-01-01"]
    if errors:
        raise HighSeasError(
            ErrorCode.VALIDATION_ERROR, _("The window is out of range."), errors=errors
        )
    explicit_until = until is not None
    until = until or now or timezone.now()
    if since is None:
        since = (
            until - timedelta(days=DEFAULT_DAYS)
            if explicit_until
            else snapshots.day_start(until, DEFAULT_DAYS)
        )
    if since >= until:
        name = "until" if explicit_until else "since"
        raise HighSeasError(
            ErrorCode.VALIDATION_ERROR,
            _("The window must end after it starts."),
            errors={name: ["must be after since" if name == "until" else "must be before until"]},
        )
    if until - since > LONGEST_WINDOW:
        raise HighSeasError(
            ErrorCode.VALIDATION_ERROR,
            _("The window is at most two years long."),
            errors={"since": ["at most 731 days before until"]},
        )
    return Window(since, until)


def _refuse_rep() -> HighSeasError:
    return HighSeasError(
        ErrorCode.PERMISSION_DENIED, _("Only a manager or an admin may read team figures.")
    )


def rep_query(viewer: Viewer, *, own_row: bool = False) -> QuerySet[User]:
    """The reps whose figures the viewer may read (module docstring), unordered: a statement
    that other reads take as a subquery (``among``) instead of thousands of ids."""
    reps = User.objects.filter(role=Role.REP, is_active=True)
    if viewer.is_admin:
        return reps
    if viewer.user.is_manager:
        return reps.filter(team_id__in=sorted(viewer.subtree_team_ids))
    if own_row and viewer.user.role == Role.REP:
        return reps.filter(pk=viewer.user.pk)
    raise _refuse_rep()


def reps_in_view(viewer: Viewer, *, own_row: bool = False) -> list[User]:
    """``rep_query``'s reps by username, with the fields the figures name."""
    reps = rep_query(viewer, own_row=own_row).order_by("username")
    return list(reps.only("pk", "username", "display_name", "team_id"))


def among(viewer: Viewer, *, own_row: bool = False) -> QuerySet[Any]:
    """``rep_query``'s ids as a subquery (for ``owner_id__in=`` and the like)."""
    return rep_query(viewer, own_row=own_row).values("pk")


def _counted(rows: Any) -> dict[int, int]:
    return {owner: count for owner, count in rows}


def holdings(ids: Reps) -> dict[int, int]:
    return _counted(
        Customer.objects.filter(owner_id__in=ids, status__in=HELD, merged_into__isnull=True)
        .values_list("owner_id")
        .annotate(n=Count("id"))
    )


def _ledger(kind: str, side: str, ids: Reps, span: Window) -> dict[int, int]:
    return _counted(
        OwnershipEvent.objects.filter(
            kind=kind, at__gte=span.since, at__lt=span.until, **{f"{side}_owner_id__in": ids}
        )
        .values_list(f"{side}_owner_id")
        .annotate(n=Count("id"))
    )


def _held_in_window(ids: Reps, span: Window) -> Any:
    """Ledger entries that show a rep as the owner of a customer at some moment of the window:
    the customer's last entry before ``since``, or any entry inside the window."""
    later_before_start = OwnershipEvent.objects.filter(
        customer_id=OuterRef("customer_id"), at__lt=span.since, id__gt=OuterRef("id")
    )
    return OwnershipEvent.objects.filter(to_owner_id__in=ids).filter(
        Q(at__gte=span.since, at__lt=span.until)
        | (Q(at__lt=span.since) & ~Exists(later_before_start))
    )


def follow_ups(ids: Reps, span: Window) -> dict[int, tuple[int, int]]:
    """Per rep: (customers held in the window, of which followed up by the rep in it)."""
    touched = Activity.objects.filter(
        customer_id=OuterRef("customer_id"),
        author_id=OuterRef("to_owner_id"),
        occurred_at__gte=span.since,
        occurred_at__lt=span.until,
    )
    rows = (
        _held_in_window(ids, span)
        .annotate(touched=Exists(touched))
        .values_list("to_owner_id")
        .annotate(
            held=Count("customer_id", distinct=True),
            followed=Count("customer_id", distinct=True, filter=Q(touched=True)),
        )
    )
    return {owner: (held, followed) for owner, held, followed in rows}


def deals(ids: Reps, span: Window) -> dict[int, tuple[int, int, Decimal]]:
    """Per rep: (won, lost, won amount) of the deals they own, closed in the window."""
    won_in = Q(stage=DealStage.WON, won_at__gte=span.since, won_at__lt=span.until)
    lost_in = Q(stage=DealStage.LOST, lost_at__gte=span.since, lost_at__lt=span.until)
    rows = (
        Deal.objects.filter(owner_id__in=ids)
        .filter(won_in | lost_in)
        .values_list("owner_id")
        .annotate(
            won=Count("id", filter=won_in),
            lost=Count("id", filter=lost_in),
            revenue=Sum("amount", filter=won_in),
        )
    )
    return {owner: (won, lost, revenue or Decimal(0)) for owner, won, lost, revenue in rows}


def first_contact(span: Window) -> QuerySet[Activity, Any]:
    """For a gain (a ledger row, the outer query): the moment of the new owner's first
    activity on the customer after it, within the window."""
    return (
        Activity.objects.filter(
            customer_id=OuterRef("customer_id"),
            author_id=OuterRef("to_owner_id"),
            occurred_at__gte=OuterRef("at"),
            occurred_at__lt=span.until,
        )
        .order_by("occurred_at")
        .values("occurred_at")[:1]
    )


def first_contact_hours(ids: Reps, span: Window) -> dict[int, list[float]]:
    """Per rep: hours from each gain in the window to their first activity on it."""
    first = first_contact(span)
    gains = (
        OwnershipEvent.objects.filter(
            kind__in=GAINS, to_owner_id__in=ids, at__gte=span.since, at__lt=span.until
        )
        .annotate(first=Subquery(first))
        .filter(first__isnull=False)
        .values_list("to_owner_id", "at", "first")
    )
    hours: dict[int, list[float]] = defaultdict(list)
    for owner, gained, contacted in gains:
        hours[owner].append((contacted - gained).total_seconds() / 3600)
    return hours


def _rep(rep: User) -> dict[str, Any]:
    return {"rep": rep.pk, "username": rep.username, "display_name": rep.label}


def rep_figures(
    viewer: Viewer,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    cached: bool = False,
    sort: str | None = None,
    page: int | None = None,
    page_size: int | None = None,
) -> dict[str, Any]:
    """Per rep in view, the figures of the module docstring over the window, by username,
    and ``count``, how many. With ``cached`` and the default window, the fields of
    ``slow_figures`` come from the cache (``insights.cache``) for the default window ending
    when they were computed, which the answer's ``cached`` says; holdings, claims and
    recycled are exact now. With ``sort`` (``REP_SORTS``), ``page`` or ``page_size``, the
    rows are ``ranked`` (by username unless sorted; ``PAGE_SIZE`` a page unless sized) and
    the answer also says ``sort``, ``page``, ``pages`` and ``page_size``."""
    span = window(since, until)
    reps = reps_in_view(viewer, own_row=True)
    ids, sql = [rep.pk for rep in reps], among(viewer, own_row=True)
    held = snapshots.holdings_now(ids, sql)
    counted = snapshots.window_counts(ids, span.since, span.until, sql)
    computed_at = None
    if cached and since is None and until is None:
        slow, computed_at = cache.remember("rep_figures", viewer, {}, now=span.until)
    else:
        slow = slow_figures(ids, span, sql)
    rows = []
    for rep in reps:
        rows.append(
            {
                **_rep(rep),
                "holdings": held.get(rep.pk, 0),
                "claims": counted[rep.pk].claims,
                "recycled": counted[rep.pk].recycled,
                **slow.get(str(rep.pk), SLOW_NONE),
            }
        )
    found: dict[str, Any] = {
        "since": span.since,
        "until": span.until,
        "reps": rows,
        "count": len(rows),
    }
    if sort is not None or page is not None or page_size is not None:
        shown = ranked(
            rows,
            sort=sort or "username",
            sorts=REP_SORTS,
            page=page or 1,
            size=page_size or PAGE_SIZE,
        )
        found |= {"reps": shown["rows"], "sort": shown["sort"], "page_size": shown["size"]}
        found |= {name: shown[name] for name in ("page", "pages")}
    if computed_at is not None:
        found["cached"] = {"fields": list(SLOW_NONE), "computed_at": computed_at}
    return found


SLOW_NONE = {
    "follow_up_rate": None,
    "won": 0,
    "lost": 0,
    "win_rate": None,
    "revenue": Decimal(0),
    "median_hours_to_first_contact": None,
}
# ``insights/reps``' orders: by any figure or name, ``-`` first for the biggest first
REP_SORTS = tuple(
    f"{sign}{name}"
    for name in ("username", "display_name", "holdings", "claims", "recycled", *SLOW_NONE)
    for sign in ("", "-")
)


def slow_figures(
    ids: list[int], span: Window, sql: Reps | None = None
) -> dict[str, dict[str, Any]]:
    """Per rep of ``ids`` (by id as text; ``sql``: the same as a subquery), the figures no
    per-rep day sums: the follow-up rate, the deals and the first-contact time over the
    window."""
    sql = ids if sql is None else sql
    followed = follow_ups(sql, span)
    closed = deals(sql, span)
    contact = first_contact_hours(sql, span)
    rows = {}
    for pk in ids:
        in_window, touched = followed.get(pk, (0, 0))
        won, lost, revenue = closed.get(pk, (0, 0, Decimal(0)))
        rows[str(pk)] = {
            "follow_up_rate": touched / in_window if in_window else None,
            "won": won,
            "lost": lost,
            "win_rate": won / (won + lost) if won + lost else None,
            "revenue": revenue,
            "median_hours_to_first_contact": median(contact.get(pk, [])),
        }
    return rows


@cache.figure("rep_figures")
def cached_slow_figures(viewer: Viewer, params: dict[str, Any], now: datetime) -> Any:
    """``slow_figures`` of the reps in view over the default window ending ``now``."""
    ids = [rep.pk for rep in reps_in_view(viewer, own_row=True)]
    return slow_figures(ids, window(now=now), among(viewer, own_row=True))


def hoarding_days() -> int:
    return int(getattr(settings, "HIGHSEAS_HOARDING_DAYS", 30))


def hoarded(ids: Reps, now: datetime, days: int) -> dict[int, int]:
    """Per rep: customers owned more than ``days`` days with no effective follow-up in them."""
    start = now - timedelta(days=days)
    return _counted(
        Customer.objects.filter(
            owner_id__in=ids,
            status=CustomerStatus.OWNED,
            merged_into__isnull=True,
            owned_since__lt=start,
        )
        .filter(
            Q(last_effective_activity_at__isnull=True) | Q(last_effective_activity_at__lt=start)
        )
        .values_list("owner_id")
        .annotate(n=Count("id"))
    )


def bouncing(viewer: Viewer, ids: Reps, span: Window) -> dict[str, Any]:
    """Customers back in a pool from reps in view ``MIN_RETURNS`` times or more in the window."""
    rows = list(
        OwnershipEvent.objects.filter(
            kind__in=RETURNS, from_owner_id__in=ids, at__gte=span.since, at__lt=span.until
        )
        .values_list("customer_id")
        .annotate(returns=Count("id"), reps=Count("from_owner_id", distinct=True))
        .filter(returns__gte=MIN_RETURNS)
        .order_by("-returns", "customer_id")
    )
    top = rows[:MOST_BOUNCING]
    names = dict(viewer.customers().filter(pk__in=[r[0] for r in top]).values_list("pk", "name"))
    return {
        "min_returns": MIN_RETURNS,
        "total": len(rows),
        "customers": [
            {"customer": pk, "name": names.get(pk, ""), "returns": returns, "reps": reps}
            for pk, returns, reps in top
        ],
    }


def fairness(
    viewer: Viewer,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    now: datetime | None = None,
    cached: bool = False,
) -> dict[str, Any]:
    """Gini of holdings and of new customers, and hoarding, over the reps in view. With
    ``cached`` and the default window, the bouncing customers and the hoarding come from the
    cache (``insights.cache``), which the answer's ``cached`` says."""
    span = window(since, until)
    reps = reps_in_view(viewer)
    ids, sql = [rep.pk for rep in reps], among(viewer)
    now = now or timezone.now()
    held = snapshots.holdings_now(ids, sql)
    counted = snapshots.window_counts(ids, span.since, span.until, sql)
    if cached and since is None and until is None:
        slow, computed_at = cache.remember("fairness", viewer, {}, now=now)
    else:
        slow, computed_at = slow_fairness(viewer, span, now), None
    hoards = {int(pk): n for pk, n in slow["hoarded"].items()}
    found = {
        "since": span.since,
        "until": span.until,
        "reps": len(reps),
        "gini_holdings": gini([held.get(pk, 0) for pk in ids]),
        "gini_new": gini([counted[pk].new for pk in ids]),
        "gini_claims": gini([counted[pk].claims for pk in ids]),
        "bouncing": slow["bouncing"],
        "hoarding": {
            "days": slow["days"],
            "total": sum(hoards.values()),
            "reps": [
                {**_rep(rep), "holdings": held.get(rep.pk, 0), "hoarded": hoards[rep.pk]}
                for rep in reps
                if hoards.get(rep.pk)
            ],
        },
    }
    if computed_at is not None:
        found["cached"] = {"fields": ["bouncing", "hoarding"], "computed_at": computed_at}
    return found


def slow_fairness(viewer: Viewer, span: Window, now: datetime) -> dict[str, Any]:
    """The bouncing customers and the hoarded counts (by rep id as text) of the reps in view."""
    sql = among(viewer)
    days = hoarding_days()
    return {
        "days": days,
        "hoarded": {str(pk): n for pk, n in hoarded(sql, now, days).items()},
        "bouncing": bouncing(viewer, sql, span),
    }


@cache.figure("fairness")
def cached_fairness(viewer: Viewer, params: dict[str, Any], now: datetime) -> Any:
    """``slow_fairness`` over the default window ending ``now``."""
    return slow_fairness(viewer, window(now=now), now)


PAGE_SIZE = 20
MAX_PAGE_SIZE = 500


def paged(rows: list[Any], page: int = 1, size: int | None = None) -> dict[str, Any]:
    """Page ``page`` (from 1; past the last, the last) of ``size`` rows (None: every row on
    one page, at most ``MAX_PAGE_SIZE`` otherwise): the page's ``rows``, ``count`` (all
    rows), ``page``, ``pages`` and ``size``."""
    count = len(rows)
    size = (count or 1) if size is None else max(1, min(size, MAX_PAGE_SIZE))
    pages = max(1, -(-count // size))
    page = min(max(page, 1), pages)
    found = rows[(page - 1) * size : page * size]
    return {"rows": found, "count": count, "page": page, "pages": pages, "size": size}


def ranked(
    rows: list[dict[str, Any]],
    *,
    sort: str,
    sorts: Collection[str],
    page: int = 1,
    size: int | None = None,
) -> dict[str, Any]:
    """Rows of reps ranked and paged, as the console and ``insights/reps`` show them: ordered
    by ``sort`` — one of ``sorts``, a field, ``-`` first for the biggest first; an unknown one
    is the first of ``sorts`` — with an empty figure (None) last either way and ties by
    display name, then rep; then ``paged``, with the ``sort`` used."""
    sort = sort if sort in sorts else next(iter(sorts))
    field, biggest = sort.lstrip("-"), sort.startswith("-")
    ordered = sorted(rows, key=lambda row: (str(row["display_name"]), row["rep"]))
    known = [row for row in ordered if row[field] is not None]
    known.sort(key=lambda row: row[field], reverse=biggest)  # stable: ties keep name order
    return {
        **paged(known + [row for row in ordered if row[field] is None], page, size),
        "sort": sort,
    }
