"""Per-rep days (``insights.snapshots``): on a random book built through the services, with
some closed days rolled up (in gaps), moves made today after the roll-up and a rep moved to
another team, every figure read from the days equals the live count from the ledger and the
customer table: the window counts, the holdings now, the reps' figures, fairness and the
dashboard. A rep's days follow them to their new team, as the live figures do. The roll-up
is idempotent, resumes after a gap, and the job writes yesterday once."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.db import connection, transaction
from django.db.models import Count
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from highseas.accounts.visibility import Viewer
from highseas.customers.models import Customer
from highseas.engine.errors import HighSeasError
from highseas.engine.insights import gini
from highseas.engine.ownership import EventKind
from highseas.insights import dashboard, snapshots
from highseas.insights.models import RepDay, RepWindow, RolledDay, RolledWindow
from highseas.insights.performance import GAINS, fairness, holdings, rep_figures
from highseas.pools import ownership
from highseas.pools.models import OwnershipEvent
from tests.races import race

NOW = timezone.now().replace(microsecond=0)
TODAY = snapshots.midnight(snapshots.day_of(NOW))
DAYS = 9


def live(
    ids: list[int], kinds: tuple[str, ...], side: str, since: datetime, until: datetime
) -> dict[int, int]:
    """Ledger entries of ``kinds`` to (from) each rep in ``[since, until)``, counted here."""
    rows = (
        OwnershipEvent.objects.filter(
            kind__in=kinds, at__gte=since, at__lt=until, **{f"{side}_owner_id__in": ids}
        )
        .values_list(f"{side}_owner_id")
        .annotate(n=Count("id"))
    )
    return dict(rows)


def moment(rng: random.Random, first: datetime, last: datetime) -> datetime:
    return first + timedelta(seconds=rng.randrange(max(1, int((last - first).total_seconds()))))


def act(org: dict[str, Any], rng: random.Random, customers: list[Customer], at: datetime) -> None:
    """One random move through the services; a refusal (cap, cooldown, state) is skipped."""
    reps = [org["rep_a"], org["rep_b"], org["rep_c"]]
    rep, other = rng.sample(reps, 2)
    customer = rng.choice(customers)
    pool = org["south_pool"] if rep == org["rep_c"] else org["east_pool"]
    manager = org["admin"]
    moves: list[Callable[[], Any]] = [
        lambda: ownership.claim(rep, customer.pk, now=at),
        lambda: ownership.release(rep, customer.pk, reason="暂无需求", to_pool=pool, now=at),
        lambda: ownership.assign(manager, customer.pk, rep, now=at),
        lambda: ownership.transfer(manager, customer.pk, other, now=at),
        lambda: ownership.release(manager, customer.pk, reason="回收", now=at),
    ]
    try:
        with transaction.atomic():
            rng.choice(moves)()
    except HighSeasError:
        pass


def book(org: dict[str, Any], rng: random.Random, make_customer: Callable[..., Customer]) -> None:
    start = TODAY - timedelta(days=DAYS)
    customers = [
        make_customer(
            org["admin"],
            pool=rng.choice([org["east_pool"], org["south_pool"]]),
            owner=rng.choice([None, org["rep_a"], org["rep_b"]]),
            now=moment(rng, start - timedelta(days=2), start),
        )
        for _ in range(12)
    ]
    for at in sorted(moment(rng, start, TODAY) for _ in range(45)):
        act(org, rng, customers, at)
    # the days rolled so far: some, with gaps (a new install, a worker that was down)
    rolled = [d for d in range(1, DAYS + 1) if rng.random() < 0.6]
    for back in sorted(rolled, reverse=rng.random() < 0.5):
        snapshots.roll_day(snapshots.day_of(TODAY) - timedelta(days=back), NOW)
    if rng.random() < 0.4:  # the backfill fills the gaps, newest first
        snapshots.backfill(NOW, days=DAYS + 3)
    if rng.random() < 0.6:  # the closed days of windows of 2 to DAYS + 2 days, summed ahead
        snapshots.store_windows(NOW, tuple(range(2, DAYS + 3)))
    # today, after the roll-up, and a rep moving team (their history goes with them)
    for at in sorted(moment(rng, TODAY, NOW) for _ in range(10)):
        act(org, rng, customers, at)
    if rng.random() < 0.5:
        org["rep_b"].team = org["south"]
        org["rep_b"].save(update_fields=["team"])


@pytest.mark.django_db
@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(seed=st.integers(0, 100_000))
def test_figures_from_days_equal_the_live_figures(
    org: dict[str, Any],
    make_customer: Callable[..., Customer],
    monkeypatch: pytest.MonkeyPatch,
    seed: int,
) -> None:
    rng = random.Random(seed)
    # the stored days read for the reps asked, or for every rep then filtered
    monkeypatch.setattr(snapshots, "FEW_REPS", rng.choice([0, 200]))
    for name in ("rep_a", "rep_b", "rep_c"):
        org[name].refresh_from_db()
    with transaction.atomic():
        book(org, rng, make_customer)
        ids = [org[name].pk for name in ("rep_a", "rep_b", "rep_c")]
        assert snapshots.holdings_now(ids) == {pk: holdings(ids).get(pk, 0) for pk in ids}
        for _ in range(6):
            since = moment(rng, TODAY - timedelta(days=DAYS + 1), NOW)
            until = moment(rng, since + timedelta(seconds=1), NOW + timedelta(hours=2))
            found = snapshots.window_counts(ids, since, until)
            expected = {
                "claims": live(ids, (EventKind.CLAIMED,), "to", since, until),
                "assigned": live(ids, (EventKind.ASSIGNED,), "to", since, until),
                "gains": live(ids, GAINS, "to", since, until),
                "recycled": live(ids, (EventKind.RECYCLED,), "from", since, until),
                "released": live(ids, (EventKind.RELEASED,), "from", since, until),
            }
            for name, counts in expected.items():
                assert {pk: getattr(found[pk], name) for pk in ids} == {
                    pk: counts.get(pk, 0) for pk in ids
                }, (name, since, until)
            for viewer in (org["admin"], org["east_manager"], org["south_manager"]):
                figures = rep_figures(Viewer(viewer), since=since, until=until)
                for row in figures["reps"]:
                    pk = row["rep"]
                    assert (row["holdings"], row["claims"], row["recycled"]) == (
                        holdings(ids).get(pk, 0),
                        expected["claims"].get(pk, 0),
                        expected["recycled"].get(pk, 0),
                    )
                shown = [row["rep"] for row in figures["reps"]]
                fair = fairness(Viewer(viewer), since=since, until=until)
                new = live(ids, (EventKind.CLAIMED, EventKind.ASSIGNED), "to", since, until)
                assert fair["gini_holdings"] == gini([holdings(ids).get(pk, 0) for pk in shown])
                assert fair["gini_new"] == gini([new.get(pk, 0) for pk in shown])
                assert fair["gini_claims"] == gini([expected["claims"].get(pk, 0) for pk in shown])
        for viewer in (org["admin"], org["east_manager"], org["south_manager"]):
            view = Viewer(viewer)
            reps = dashboard.team_reps(view)
            team = [rep.pk for rep in reps]
            # the dashboard's windows are calendar days: today and the 6 (29) days before it
            week = TODAY - timedelta(days=6)
            assert snapshots.day_start(NOW, 7) == week
            kpi = dashboard.headline(view, reps, NOW)
            claims = live(team, (EventKind.CLAIMED,), "to", week, snapshots.FOREVER)
            recycled = live(team, (EventKind.RECYCLED,), "from", week, snapshots.FOREVER)
            assert kpi["held"] == (
                view.customers().filter(owner_id__in=team, status__in=("owned", "frozen")).count()
            )
            assert (kpi["claims_week"], kpi["recycled_week"]) == (
                sum(claims.values()),
                sum(recycled.values()),
            )
            month = TODAY - timedelta(days=29)
            claimed = live(team, (EventKind.CLAIMED,), "to", month, snapshots.FOREVER)
            figures = dashboard.dashboard_figures(
                view, NOW, pool_days=7, activity_days=30, follow_up_days=7
            )
            assert {pk: values[0] for _label, values, pk in figures["activity"]} == {
                pk: float(claimed.get(pk, 0)) for pk in team
            }
            assert figures["kpi"]["held"] == kpi["held"]
        # several calendar-day windows and the holdings in one read equal the live counts,
        # whichever days are rolled (``snapshots.recent``)
        windows = tuple(rng.sample(range(1, DAYS + 3), 3))
        counted, held = snapshots.recent(ids, NOW, windows)
        assert held == {pk: holdings(ids).get(pk, 0) for pk in ids}
        for days in windows:
            since = snapshots.day_start(NOW, days)
            for name, kinds, side in (
                ("claims", (EventKind.CLAIMED,), "to"),
                ("assigned", (EventKind.ASSIGNED,), "to"),
                ("gains", GAINS, "to"),
                ("recycled", (EventKind.RECYCLED,), "from"),
                ("released", (EventKind.RELEASED,), "from"),
            ):
                expected = live(ids, kinds, side, since, snapshots.FOREVER)
                assert {pk: getattr(counted[days][pk], name) for pk in ids} == {
                    pk: expected.get(pk, 0) for pk in ids
                }, (name, days)
        transaction.set_rollback(True)


@pytest.mark.django_db
def test_the_roll_up_is_idempotent_and_the_job_writes_yesterday_once(
    org: dict[str, Any], make_customer: Callable[..., Customer]
) -> None:
    yesterday = TODAY - timedelta(hours=12)
    customer = make_customer(org["admin"], pool=org["east_pool"], now=yesterday - timedelta(days=3))
    ownership.claim(org["rep_a"], customer.pk, now=yesterday)
    now = TODAY + timedelta(hours=1)
    assert snapshots.roll_up(now) == {"rep_days": 1}
    assert snapshots.roll_up(now) == {}
    row = RepDay.objects.get()
    assert (row.rep_id, row.day, row.claims, row.gains, row.holdings) == (
        org["rep_a"].pk,
        snapshots.day_of(yesterday),
        1,
        1,
        1,
    )
    # the backfill rolls the older days (the customer's creation day among them), once
    first = snapshots.backfill(now, days=5)
    assert first["rolled_days"] == 4 and snapshots.backfill(now, days=5)["rolled_days"] == 0
    assert RolledDay.objects.count() == 5
    assert snapshots.roll_day(snapshots.day_of(yesterday), now) == 0


@pytest.mark.django_db
def test_a_day_closes_only_after_the_grace(org: dict[str, Any]) -> None:
    assert snapshots.roll_up(TODAY + snapshots.GRACE - timedelta(seconds=1)) == {"rep_days": 0}
    assert (
        RolledDay.objects.filter(day=snapshots.day_of(TODAY) - timedelta(days=1)).exists() is False
    )


@pytest.mark.django_db(transaction=True)
def test_workers_rolling_the_same_day_at_once_write_it_once(
    org: dict[str, Any], make_customer: Callable[..., Customer]
) -> None:
    """Several scheduler workers reach the same closed day together: one rolls it, the
    others find it taken and write nothing; none fails on the day's unique rows."""
    yesterday = TODAY - timedelta(hours=12)
    for index in range(3):
        customer = make_customer(
            org["admin"], pool=org["east_pool"], now=yesterday - timedelta(days=3)
        )
        ownership.claim(org["rep_a" if index % 2 else "rep_b"], customer.pk, now=yesterday)
    now = TODAY + timedelta(hours=1)
    written: list[int] = []
    outcomes = race(4, lambda _: written.append(snapshots.roll_up(now).get("rep_days", 0)))
    assert outcomes == Counter({"ok": 4})
    assert sorted(written) == [0, 0, 0, 2]
    assert RolledDay.objects.filter(day=snapshots.day_of(yesterday)).count() == 1
    assert RepDay.objects.filter(day=snapshots.day_of(yesterday)).count() == 2


@pytest.mark.django_db
def test_the_ledger_has_the_index_the_live_parts_are_read_from() -> None:
    """``insights.0004``/``0005``: on SQLite a migration that changes the ledger's columns
    rebuilds its table with the model's indexes only; ``0005`` creates the index again."""
    with connection.cursor() as cursor:
        indexes = connection.introspection.get_constraints(cursor, OwnershipEvent._meta.db_table)
    assert indexes["insights_ledger_day_counts"]["columns"] == [
        "at",
        "kind",
        "to_owner_id",
        "to_status",
        "from_owner_id",
        "from_status",
    ]


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite rebuilds tables to alter them")
def test_the_ledger_index_survives_a_rebuild_of_the_ledger_table() -> None:
    """``pools.0010``: the index is declared on the model, so the next migration that rebuilds
    the ledger's table on SQLite keeps it (``pools.0007`` once dropped it)."""
    with connection.schema_editor() as editor:
        editor._remake_table(OwnershipEvent)  # what a column change of the ledger does
    with connection.cursor() as cursor:
        indexes = connection.introspection.get_constraints(cursor, OwnershipEvent._meta.db_table)
    assert "insights_ledger_day_counts" in indexes


@pytest.mark.django_db
def test_a_windows_closed_days_are_summed_once_and_read_from_the_sums(
    org: dict[str, Any], make_customer: Callable[..., Customer]
) -> None:
    """Step 5: the backfill stores the 7-day window's six closed days per rep once each is
    rolled; the reads take the stored sums (a row changed by hand shows), and equal the
    summed days; a run with a day not rolled is not stored; a rebuild stores them again."""
    # yesterday is closed once the grace after midnight has passed: a run in it waits
    now = max(NOW, TODAY + snapshots.GRACE)
    customers = [
        make_customer(org["admin"], pool=org["east_pool"], now=TODAY - timedelta(days=12))
        for _ in range(5)
    ]
    for back, customer in enumerate(customers, start=1):
        ownership.claim(org["rep_a"], customer.pk, now=TODAY - timedelta(days=back, hours=-9))
    today = make_customer(org["admin"], pool=org["east_pool"], now=TODAY - timedelta(days=1))
    ownership.claim(org["rep_b"], today.pk, now=TODAY + (now - TODAY) / 2)  # read live
    ids = [org["rep_a"].pk, org["rep_b"].pk]
    snapshots.backfill(now, days=8)
    yesterday = snapshots.day_of(TODAY) - timedelta(days=1)
    run = RolledWindow.objects.get()  # 30 and 90 days reach days never rolled
    assert (run.first_day, run.last_day) == (yesterday - timedelta(days=5), yesterday)
    stored = RepWindow.objects.get(window=run, rep=org["rep_a"])
    assert stored.claims == stored.gains == 5 and stored.recycled == 0
    counted, _held = snapshots.recent(ids, now, (7, 3))
    week = live(ids, (EventKind.CLAIMED,), "to", snapshots.day_start(now, 7), snapshots.FOREVER)
    assert {pk: counted[7][pk].claims for pk in ids} == {pk: week.get(pk, 0) for pk in ids}
    three = live(ids, (EventKind.CLAIMED,), "to", snapshots.day_start(now, 3), snapshots.FOREVER)
    assert {pk: counted[3][pk].claims for pk in ids} == {pk: three.get(pk, 0) for pk in ids}
    found = snapshots.window_counts(ids, snapshots.day_start(now, 7), now)
    assert {pk: found[pk].claims for pk in ids} == {pk: week.get(pk, 0) for pk in ids}
    # the reads take the stored sums: a stored row changed by hand shows in both
    RepWindow.objects.filter(pk=stored.pk).update(claims=50)
    assert snapshots.recent(ids, now, (7,))[0][7][org["rep_a"].pk].claims == 50 + (
        week.get(org["rep_a"].pk, 0) - 5
    )
    assert snapshots.window_counts(ids, snapshots.day_start(now, 7), now)[
        org["rep_a"].pk
    ].claims == 50 + (week.get(org["rep_a"].pk, 0) - 5)
    # without a run's sums the days are summed, as before
    RolledWindow.objects.all().delete()
    assert snapshots.recent(ids, now, (7,))[0][7][org["rep_a"].pk].claims == week.get(
        org["rep_a"].pk, 0
    )
    # a run with a day not rolled is not stored
    RolledDay.objects.filter(day=yesterday - timedelta(days=2)).delete()
    assert snapshots.store_windows(now) == 0 and not RolledWindow.objects.exists()
    # a rebuild rolls every day again and stores the run once
    snapshots.rebuild(now, days=8)
    assert RolledWindow.objects.count() == 1
    assert RepWindow.objects.get(rep=org["rep_a"]).claims == 5
    assert snapshots.store_windows(now) == 0 and RolledWindow.objects.count() == 1
