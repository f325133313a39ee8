"""Daily figures, precomputed so the dashboard and the insights do not replay the ledger on
every load: pool sizes (``PoolSizeDay``) and per-rep days (``RepDay``).

Pool sizes:

1. ``replayed_sizes`` is the truth: pooled customers per pool at the end of each of the last
   ``days`` days, replayed backwards from today's count through the ledger's entries into and
   exits from each pool.
2. ``record_pool_sizes`` (the scheduler, at most once an hour) stores today's size of every
   pool and backfills the past days that have no row yet from one replay.
3. ``pool_sizes`` reads the stored days and today's live count; when a day is missing for a
   pool it falls back to the replay, so the figures never depend on whether the job ran.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from django.db import connection, transaction
from django.db.models import Count, Q, QuerySet, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from highseas.customers.choices import CustomerStatus
from highseas.customers.models import Customer
from highseas.engine.ownership import EventKind
from highseas.insights.models import PoolSizeDay, RepDay, RepWindow, RolledDay, RolledWindow
from highseas.pools.models import OwnershipEvent, Pool

DAYS = 60
REFRESH = timedelta(hours=1)


def axis_of(now: datetime, days: int) -> list[date]:
    today = timezone.localtime(now, timezone.get_current_timezone()).date()
    return [today - timedelta(days=offset) for offset in range(days - 1, -1, -1)]


def live_sizes(pool_ids: list[int]) -> dict[int, int]:
    rows = (
        Pool.objects.filter(pk__in=pool_ids)
        .annotate(n=Count("customers", filter=Q(customers__status=CustomerStatus.POOLED)))
        .values_list("pk", "n")
    )
    return dict(rows)


@contextmanager
def one_moment() -> Iterator[None]:
    """The reads inside see the database as of one moment, and write nothing: a REPEATABLE
    READ transaction on PostgreSQL; on SQLite a deferred read transaction, whose snapshot (WAL)
    holds until it ends and never blocks a writer. Inside a caller's transaction, the
    caller's isolation holds."""
    if connection.in_atomic_block:
        yield
    elif connection.vendor == "postgresql":
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            yield
    else:
        with connection.cursor() as cursor:
            cursor.execute("BEGIN DEFERRED")
        try:
            yield
        finally:
            with connection.cursor() as cursor:
                cursor.execute("COMMIT")


def replayed_sizes(pools: list[Pool], now: datetime, days: int) -> dict[int, list[int]]:
    """Per pool, its size at the end of each axis day (module docstring, step 1)."""
    zone = timezone.get_current_timezone()
    axis = axis_of(now, days)
    start = datetime.combine(axis[1] if len(axis) > 1 else axis[0], datetime.min.time(), zone)
    ids = [pool.pk for pool in pools]
    net: dict[tuple[int, date], int] = defaultdict(int)
    recent = OwnershipEvent.objects.filter(at__gte=start).annotate(day=TruncDate("at", tzinfo=zone))
    for side, sign in (("to", 1), ("from", -1)):
        moved = (
            recent.filter(**{f"{side}_status": CustomerStatus.POOLED, f"{side}_pool_id__in": ids})
            .values_list(f"{side}_pool_id", "day")
            .annotate(n=Count("id"))
        )
        for pool_id, day, count in moved:
            net[(pool_id, day)] += sign * count
    today = live_sizes(ids)
    series = {}
    for pool in pools:
        size = today.get(pool.pk, 0)
        values = [size]
        for day in reversed(axis[1:]):
            size -= net[(pool.pk, day)]
            values.append(size)
        series[pool.pk] = list(reversed(values))
    return series


def pool_sizes(
    pools: list[Pool], now: datetime, days: int
) -> tuple[list[date], dict[str, list[int]]]:
    """The axis and, by pool name, the sizes (module docstring, step 3)."""
    axis = axis_of(now, days)
    ids = [pool.pk for pool in pools]
    stored: dict[tuple[int, date], int] = {
        (pool_id, day): pooled
        for pool_id, day, pooled in PoolSizeDay.objects.filter(
            pool_id__in=ids, day__gte=axis[0], day__lt=axis[-1]
        ).values_list("pool_id", "day", "pooled")
    }
    complete = all((pk, day) in stored for pk in ids for day in axis[:-1])
    if not complete:
        replayed = replayed_sizes(pools, now, days)
        return axis, {pool.name: replayed[pool.pk] for pool in pools}
    today = live_sizes(ids)
    return axis, {
        pool.name: [stored[(pool.pk, day)] for day in axis[:-1]] + [today.get(pool.pk, 0)]
        for pool in pools
    }


def record_pool_sizes(now: datetime, days: int = DAYS) -> dict[str, int]:
    """Store today's sizes and backfill missing days (module docstring, step 2)."""
    axis = axis_of(now, days)
    fresh = PoolSizeDay.objects.filter(day=axis[-1], updated_at__gt=now - REFRESH).exists()
    if fresh:
        return {}
    pools = list(Pool.objects.filter(is_reassign_queue=False))
    ids = [pool.pk for pool in pools]
    have = set(
        PoolSizeDay.objects.filter(pool_id__in=ids, day__gte=axis[0]).values_list("pool_id", "day")
    )
    missing = [(pk, day) for pk in ids for day in axis[:-1] if (pk, day) not in have]
    # the replay reads the ledger, then the live counts: a claim committed between the two
    # reads would make a past day one short (below zero for a pool that was empty)
    with one_moment():
        sizes = replayed_sizes(pools, now, days) if missing else {}
        today = live_sizes(ids)
    rows = [
        PoolSizeDay(pool_id=pk, day=day, pooled=sizes[pk][axis.index(day)], updated_at=now)
        for pk, day in missing
    ]
    # several workers may backfill the same days at once; they replay the same ledger
    PoolSizeDay.objects.bulk_create(rows, batch_size=1000, ignore_conflicts=True)
    for pk in ids:
        PoolSizeDay.objects.update_or_create(
            pool_id=pk, day=axis[-1], defaults={"pooled": today.get(pk, 0), "updated_at": now}
        )
    return {"pool_size_days": len(rows) + len(ids)}


# Per-rep days (``RepDay``).
#
# 1. ``ledger_counts(start, end)`` is the truth: per rep, the ledger entries of ``[start, end)``
#    that came to them (claims, assignments, gains) or left them (recycled, released), and the
#    net change of their holdings: +1 for an entry that leaves them owning or freezing the
#    customer, -1 for one that takes a held customer from them. One read of the range on the
#    ledger's ``at`` index.
# 2. ``roll_up`` (the scheduler) stores each closed day ``GRACE`` after its midnight, with the
#    holdings at its end chained from the day before (or the day after, or else today's live
#    count less the ledger since), and marks it rolled (``RolledDay``) in the same transaction.
#    ``backfill`` rolls the missing days of a horizon, newest first, one transaction a day, so
#    an interrupted run resumes where it stopped.
# 3. ``window_counts`` sums a window's rolled full days and reads the rest — the partial first
#    day, today since midnight and any day not rolled — live from the ledger (step 1), so a
#    window's figures equal the live count exactly; ``holdings_now`` is the last rolled day's
#    end plus the ledger since.
# 4. The windows the pages and the default API windows show are whole calendar days
#    (``day_start``): "近7天" is today and the six closed days before it, as Chinese CRMs show
#    them, so no partial first day is read live, only today since midnight. ``recent`` answers
#    several such windows and the holdings now in one read of the stored days and one of the
#    ledger since the last rolled day. An explicit ``since``/``until`` is still counted exactly
#    (step 3).
# 5. Those windows' closed days are summed per rep once, when the roll-up ends
#    (``store_windows``: a ``RolledWindow`` and its ``RepWindow`` rows, for each console window
#    whose closed days are all rolled), so a load reads one row per rep instead of summing a
#    row per rep and day (an admin's 30 days: 120,000 rows). A run of rolled days read by steps
#    3 and 4 comes from its stored sums when they exist (``_stored_run``), else it is summed;
#    a rolled day never changes, so the stored sums hold until ``rebuild`` drops them.

COUNTERS = ("claims", "assigned", "gains", "recycled", "released")
GRACE = timedelta(minutes=10)
BACKFILL_DAYS = 400
DEMO_DAYS = 92  # the console's longest window (90 days) and its partial ends
# up to this many reps a window's days are read rep by rep on the (rep, day) key, which also
# groups them without sorting; beyond it one pass over the days' rows (at 1M customers, SQLite:
# 1,471 of 4,138 reps, 30 days: 0.17 s by the key against 0.30 s for the pass)
FEW_REPS = 2000


def _of_reps(rows: QuerySet[Any], ids: list[int], among: QuerySet[Any] | None) -> QuerySet[Any]:
    """``rows`` (with a ``rep_id``) narrowed to the reps ``ids`` in SQL: up to ``FEW_REPS``
    reps by ``among`` — a subquery naming them (``performance.rep_query``), so thousands of ids
    are never sent as parameters (Django prepares each one: 0.3 s for 1,471 reps) — or by the
    ids when no subquery is given; beyond it not at all: the caller picks its reps out."""
    if len(ids) > FEW_REPS:
        return rows
    return rows.filter(rep_id__in=among if among is not None else ids)


FOREVER = datetime(2100, 1, 1, tzinfo=UTC)  # "since then": the live count holds every entry
_HELD = (CustomerStatus.OWNED, CustomerStatus.FROZEN)
_TO = {
    EventKind.CLAIMED: ("claims", "gains"),
    EventKind.ASSIGNED: ("assigned", "gains"),
    EventKind.CREATED: ("gains",),
    EventKind.TRANSFERRED: ("gains",),
}
_FROM = {EventKind.RECYCLED: ("recycled",), EventKind.RELEASED: ("released",)}


@dataclass
class RepCounts:
    claims: int = 0
    assigned: int = 0
    gains: int = 0
    recycled: int = 0
    released: int = 0
    held: int = 0  # net change of the holdings (a level at the end of a stored day)

    def add(self, other: RepCounts) -> None:
        for name in (*COUNTERS, "held"):
            setattr(self, name, getattr(self, name) + getattr(other, name))

    @property
    def new(self) -> int:
        """Claims and assignments: the new customers of ``performance.fairness``."""
        return self.claims + self.assigned


def _zone() -> Any:
    return timezone.get_current_timezone()


def day_of(moment: datetime) -> date:
    return timezone.localtime(moment, _zone()).date()


def midnight(day: date) -> datetime:
    return datetime.combine(day, datetime.min.time(), _zone())


def ledger_counts(start: datetime, end: datetime) -> dict[int, RepCounts]:
    """Per rep, the ledger of ``[start, end)`` (step 1)."""
    counts: dict[int, RepCounts] = defaultdict(RepCounts)
    if start >= end:
        return counts
    rows = (
        OwnershipEvent.objects.filter(at__gte=start, at__lt=end)
        .values_list("kind", "from_owner_id", "from_status", "to_owner_id", "to_status")
        .annotate(n=Count("id"))
        .order_by()
    )
    for kind, from_owner, from_status, to_owner, to_status, n in rows:
        if to_owner is not None:
            row = counts[to_owner]
            for name in _TO.get(kind, ()):
                setattr(row, name, getattr(row, name) + n)
            row.held += n if to_status in _HELD else 0
        if from_owner is not None:
            row = counts[from_owner]
            for name in _FROM.get(kind, ()):
                setattr(row, name, getattr(row, name) + n)
            row.held -= n if from_status in _HELD else 0
    return counts


def live_holdings() -> dict[int, int]:
    rows = (
        Customer.objects.filter(status__in=_HELD, merged_into__isnull=True, owner__isnull=False)
        .values_list("owner_id")
        .annotate(n=Count("id"))
        .order_by()
    )
    return dict(rows)


def stored_holdings(day: date) -> dict[int, int]:
    return dict(RepDay.objects.filter(day=day).values_list("rep_id", "holdings"))


def _shifted(levels: dict[int, int], moves: dict[int, RepCounts], sign: int) -> dict[int, int]:
    shifted = dict(levels)
    for rep, row in moves.items():
        shifted[rep] = shifted.get(rep, 0) + sign * row.held
    return shifted


def rolled_days(first: date, last: date) -> set[date]:
    return set(
        RolledDay.objects.filter(day__gte=first, day__lte=last).values_list("day", flat=True)
    )


# a rolled day's ledger counts and end holdings, handed to the roll of the day before it
Rolled = tuple[dict[int, RepCounts], dict[int, int]]


def _end_holdings(
    day: date, counts: dict[int, RepCounts], after_known: Rolled | None
) -> dict[int, int]:
    """Held per rep at the end of ``day`` (step 2), ``counts`` being that day's ledger."""
    before, after = day - timedelta(days=1), day + timedelta(days=1)
    rolled = rolled_days(before, after)
    if before in rolled:
        return _shifted(stored_holdings(before), counts, 1)
    if after in rolled:
        if after_known is None:
            next_day = ledger_counts(midnight(after), midnight(after + timedelta(days=1)))
            after_known = (next_day, stored_holdings(after))
        return _shifted(after_known[1], after_known[0], -1)
    return _shifted(live_holdings(), ledger_counts(midnight(after), FOREVER), -1)


def roll_day(day: date, now: datetime) -> int:
    """Store one closed day's rows and mark it rolled; the number of rows written."""
    return _roll(day, now)[0]


@transaction.atomic
def _roll(day: date, now: datetime, after_known: Rolled | None = None) -> tuple[int, Rolled | None]:
    """``roll_day``, also answering the day's counts and end holdings (``after_known``: the
    same of the day after, when the caller just rolled it)."""
    # the day's mark is written first: a second worker rolling the same day waits on its
    # unique key until this transaction ends, then finds the day taken and writes nothing
    _, made = RolledDay.objects.get_or_create(day=day, defaults={"rolled_at": now})
    if not made:
        return 0, None  # rolled meanwhile by another worker
    counts = ledger_counts(midnight(day), midnight(day + timedelta(days=1)))
    held = _end_holdings(day, counts, after_known)
    reps = {rep for rep, row in counts.items() if any(getattr(row, n) for n in COUNTERS)}
    reps |= {rep for rep, n in held.items() if n}
    rows = [
        RepDay(
            rep_id=rep,
            day=day,
            holdings=held.get(rep, 0),
            **{name: getattr(counts[rep], name) for name in COUNTERS},
        )
        for rep in sorted(reps)
    ]
    RepDay.objects.filter(day=day).delete()
    RepDay.objects.bulk_create(rows, batch_size=2000)
    return len(rows), (counts, held)


def closed_through(now: datetime) -> date:
    """The last day closed ``GRACE`` ago (a transaction begun before midnight has ended)."""
    return day_of(now - GRACE) - timedelta(days=1)


def roll_up(now: datetime) -> dict[str, int]:
    """The scheduler's roll-up: the closed days after the last rolled one (yesterday alone on
    a fresh install: older days are ``backfill``'s)."""
    last = closed_through(now)
    latest = RolledDay.objects.order_by("-day").values_list("day", flat=True).first()
    first = last if latest is None else latest + timedelta(days=1)
    written = days = 0
    day = first
    while day <= last:
        written += roll_day(day, now)
        days += 1
        day += timedelta(days=1)
    store_windows(now)
    return {"rep_days": written} if days else {}


def backfill(now: datetime, days: int = BACKFILL_DAYS, progress: Any = None) -> dict[str, int]:
    """Roll the missing closed days of the last ``days``, newest first (step 2)."""
    last = closed_through(now)
    first = last - timedelta(days=days - 1)
    earliest = OwnershipEvent.objects.order_by("at").values_list("at", flat=True).first()
    if earliest is not None:
        first = max(first, day_of(earliest) - timedelta(days=1))
    have = rolled_days(first, last)
    written = rolled = 0
    day = last
    known: Rolled | None = None
    while day >= first:
        if day in have:
            known = None
        else:
            rows, known = _roll(day, now, known)
            written += rows
            rolled += 1
            if progress is not None:
                progress(day)
        day -= timedelta(days=1)
    store_windows(now)
    return {"rolled_days": rolled, "rep_days": written}


def _segments(
    since: datetime, until: datetime
) -> tuple[list[date], list[tuple[datetime, datetime]]]:
    """The rolled full days of ``[since, until)`` and the live ranges around them."""
    first = day_of(since)
    if midnight(first) < since:
        first += timedelta(days=1)
    # the day before the one ``until`` falls in, and never past yesterday
    last = min(day_of(until), day_of(timezone.now())) - timedelta(days=1)
    full = []
    day = first
    while day <= last and midnight(day + timedelta(days=1)) <= until:
        full.append(day)
        day += timedelta(days=1)
    rolled = rolled_days(full[0], full[-1]) if full else set()
    stored = [day for day in full if day in rolled]
    live: list[tuple[datetime, datetime]] = []
    cursor = since
    for day in stored:
        if midnight(day) > cursor:
            live.append((cursor, midnight(day)))
        cursor = midnight(day + timedelta(days=1))
    if cursor < until:
        live.append((cursor, until))
    return stored, live


def window_counts(
    ids: list[int], since: datetime, until: datetime, among: QuerySet[Any] | None = None
) -> dict[int, RepCounts]:
    """Per rep of ``ids`` (``among``: the same as a subquery, ``_of_reps``), the ledger
    counts of ``[since, until)`` (step 3)."""
    stored, live = _segments(since, until)
    wanted = set(ids)
    totals: dict[int, RepCounts] = {rep: RepCounts() for rep in ids}
    run = _stored_run(stored)
    if run is not None:
        summed = _of_reps(RepWindow.objects.filter(window=run), ids, among)
        for rep, *values in summed.values_list("rep_id", *COUNTERS):
            if rep in wanted:
                totals[rep].add(RepCounts(*values))
    elif stored:
        days = RepDay.objects.filter(day__gte=stored[0], day__lte=stored[-1])
        if len(stored) <= (stored[-1] - stored[0]).days:  # not contiguous
            days = days.filter(day__in=stored)
        days = _of_reps(days, ids, among)  # many reps: one pass is cheaper than lookups
        rows = days.values_list("rep_id").annotate(*(Sum(name) for name in COUNTERS)).order_by()
        for rep, *sums in rows:
            if rep in wanted:
                totals[rep].add(RepCounts(*sums))
    for start, end in live:
        for rep, row in ledger_counts(start, end).items():
            if rep in wanted:
                totals[rep].add(RepCounts(*(getattr(row, n) for n in COUNTERS)))
    return totals


def holdings_now(ids: list[int], among: QuerySet[Any] | None = None) -> dict[int, int]:
    """Per rep of ``ids`` (``among``: the same as a subquery, ``_of_reps``), held now: the
    last rolled day's end plus the ledger since; the live count when no day is rolled."""
    latest = RolledDay.objects.order_by("-day").values_list("day", flat=True).first()
    if latest is None:
        held = live_holdings()
        return {rep: held.get(rep, 0) for rep in ids}
    last_day = _of_reps(RepDay.objects.filter(day=latest), ids, among)
    stored = dict(last_day.values_list("rep_id", "holdings"))
    since = ledger_counts(midnight(latest + timedelta(days=1)), FOREVER)
    return {rep: stored.get(rep, 0) + (since[rep].held if rep in since else 0) for rep in ids}


def rebuild(now: datetime, days: int = BACKFILL_DAYS, progress: Any = None) -> dict[str, int]:
    """Forget every rolled day and backfill again: after the ledger itself was replaced (the
    demo deletes its earlier organization and writes a new history)."""
    with transaction.atomic():  # never a moment with window sums but no days under them
        RolledWindow.objects.all().delete()
        RolledDay.objects.all().delete()
        RepDay.objects.all().delete()
    return backfill(now, days, progress)


STORED_WINDOWS = (7, 30, 90)  # the console's windows (``insights.console.WINDOWS``), in days


def store_windows(now: datetime, windows: tuple[int, ...] = STORED_WINDOWS) -> int:
    """Step 5: for each window of the last ``days`` calendar days, its closed days (the
    ``days - 1`` before today) summed per rep, once, when each of them is rolled; the runs
    that ended before yesterday are dropped. The number of rep rows written."""
    last = day_of(now) - timedelta(days=1)
    written = sum(
        _store_run(last - timedelta(days=days - 2), last, now) for days in windows if days > 1
    )
    RolledWindow.objects.filter(last_day__lt=last - timedelta(days=1)).delete()
    return written


@transaction.atomic
def _store_run(first: date, last: date, now: datetime) -> int:
    """Store the per-rep sums of the rolled days ``first`` to ``last`` (step 5)."""
    if len(rolled_days(first, last)) != (last - first).days + 1:
        return 0  # a day not rolled yet: the run is summed on each read until it is
    # the mark is written first: a second worker waits on its key, then finds it taken
    mark, made = RolledWindow.objects.get_or_create(
        first_day=first, last_day=last, defaults={"rolled_at": now}
    )
    if not made:
        return 0
    sums = (
        RepDay.objects.filter(day__gte=first, day__lte=last)
        .values_list("rep_id")
        .annotate(*(Sum(name) for name in COUNTERS))
        .order_by()
    )
    rows = [
        RepWindow(window=mark, rep_id=rep, **dict(zip(COUNTERS, values, strict=True)))
        for rep, *values in sums
        if any(values)
    ]
    RepWindow.objects.bulk_create(rows, batch_size=2000)
    return len(rows)


def _stored_run(days: list[date]) -> RolledWindow | None:
    """The stored sums of ``days`` (ascending), when they are one run of consecutive days
    stored together (step 5)."""
    if not days or (days[-1] - days[0]).days + 1 != len(days):
        return None
    return RolledWindow.objects.filter(first_day=days[0], last_day=days[-1]).first()


def day_start(now: datetime, days: int) -> datetime:
    """The start of the last ``days`` calendar days, today included (step 4)."""
    return midnight(day_of(now) - timedelta(days=days - 1))


def _pieces(
    live: list[tuple[datetime, datetime]], cuts: list[datetime]
) -> list[tuple[datetime, datetime]]:
    """The live ranges cut at each of ``cuts``, so each piece lies wholly in or out of a
    window that starts at a cut."""
    pieces = []
    for start, end in live:
        for cut in sorted(cuts):
            if start < cut < end:
                pieces.append((start, cut))
                start = cut
        pieces.append((start, end))
    return pieces


def recent(
    ids: list[int],
    now: datetime,
    windows: tuple[int, ...],
    among: QuerySet[Any] | None = None,
    counters: tuple[str, ...] = COUNTERS,
) -> tuple[dict[int, dict[int, RepCounts]], dict[int, int]]:
    """Per window of the last ``days`` calendar days up to now (``day_start``), per rep of
    ``ids`` (``among``: the same as a subquery, ``_of_reps``) their counts — only
    ``counters`` (the others stay 0: an admin's 30 days are 120,000 stored rows, each sum
    costs); and per rep held now (step 4): one read of the stored days with a sum per window,
    and the ledger since the last rolled day read once for every window and the holdings."""
    starts = {days: day_start(now, days) for days in windows}
    stored, live = _segments(min(starts.values()), FOREVER)
    wanted = set(ids)
    found = {days: {rep: RepCounts() for rep in ids} for days in windows}
    summed = dict(starts)  # the windows whose closed days have no stored sums (step 5)
    for days, start in starts.items():
        run = _stored_run([day for day in stored if day >= day_of(start)])
        if run is not None:
            del summed[days]
            rows = _of_reps(RepWindow.objects.filter(window=run), ids, among)
            for rep, *values in rows.values_list("rep_id", *counters):
                if rep in wanted:
                    found[days][rep] = RepCounts(**dict(zip(counters, values, strict=True)))
    first_summed = day_of(min(summed.values())) if summed else None
    stored_summed = [day for day in stored if first_summed is not None and day >= first_summed]
    if stored_summed:
        days_read = RepDay.objects.filter(day__gte=stored_summed[0], day__lte=stored_summed[-1])
        if len(stored_summed) <= (stored_summed[-1] - stored_summed[0]).days:  # not contiguous
            days_read = days_read.filter(day__in=stored_summed)
        days_read = _of_reps(days_read, ids, among)
        sums = {
            f"{name}_{days}": Sum(name, filter=Q(day__gte=day_of(start)))
            for days, start in summed.items()
            for name in counters
        }
        width = len(counters)
        for rep, *values in days_read.values_list("rep_id").annotate(**sums).order_by():
            if rep in wanted:
                for index, days in enumerate(summed):
                    part = values[index * width : (index + 1) * width]
                    found[days][rep] = RepCounts(
                        **{name: value or 0 for name, value in zip(counters, part, strict=True)}
                    )
    latest = RolledDay.objects.order_by("-day").values_list("day", flat=True).first()
    after = midnight(latest + timedelta(days=1)) if latest is not None else None
    held_since: dict[int, int] = defaultdict(int)
    covered = False  # whether the pieces read cover the ledger since the last rolled day
    for start, end in _pieces(live, list(starts.values())):
        counted = ledger_counts(start, end)
        for days, first in starts.items():
            if start >= first:
                for rep, row in counted.items():
                    if rep in wanted:
                        found[days][rep].add(RepCounts(**{n: getattr(row, n) for n in counters}))
        if after is not None and start >= after:
            covered = covered or start == after
            for rep, row in counted.items():
                held_since[rep] += row.held
    if latest is None or after is None:
        held = live_holdings()
        return found, {rep: held.get(rep, 0) for rep in ids}
    if not covered:
        held_since = defaultdict(int)
        for rep, row in ledger_counts(after, FOREVER).items():
            held_since[rep] = row.held
    last_day = _of_reps(RepDay.objects.filter(day=latest), ids, among)
    stored_held = dict(last_day.values_list("rep_id", "holdings"))
    return found, {rep: stored_held.get(rep, 0) + held_since.get(rep, 0) for rep in ids}
