"""Leave cover (休假): during a rep's recorded leave the pool's policy pauses the recycle clocks
of their customers (default) or lets a named colleague see and follow them up while the clocks
run. The schedule is the engine's, so the sweep, every writer and ``highseas check`` agree."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from highseas.accounts.models import RepProfile, User
from highseas.accounts.visibility import Viewer
from highseas.customers.models import Activity, Customer
from highseas.engine.errors import ErrorCode, HighSeasError
from highseas.pools import followups
from highseas.pools import services as pools
from highseas.pools.authority import may_move, may_work_on
from highseas.pools.invariants import run_checks
from highseas.pools.leave import leave_note, record_leave
from highseas.pools.models import Pool, RecyclePolicy
from highseas.pools.sweep import sweep

pytestmark = pytest.mark.django_db

TZ = timezone.get_default_timezone()
T0 = datetime(2026, 11, 2, 9, 0, tzinfo=TZ)  # a Monday morning
DAY = timedelta(days=1)
LEAVE_FROM, LEAVE_UNTIL = date(2026, 11, 5), date(2026, 11, 7)  # three whole days
LEAVE_START = datetime(2026, 11, 5, tzinfo=TZ)
LEAVE_END = datetime(2026, 11, 8, tzinfo=TZ)
MakeCustomer = Callable[..., Customer]


def policy(pool: Pool, **values: Any) -> Pool:
    RecyclePolicy.objects.filter(pool=pool).update(**values)
    return Pool.objects.select_related("recycle_policy").get(pk=pool.pk)


@pytest.fixture
def east(org: dict[str, Any]) -> Pool:
    return policy(org["east_pool"], idle_days=10, warn_days=2)


@pytest.fixture
def held(org: dict[str, Any], east: Pool, make_customer: MakeCustomer) -> Customer:
    """rep_a's customer, claimed at T0: due at T0 + 10 days without a leave."""
    return make_customer(org["rep_a"], owner=org["rep_a"], pool=east, now=T0)


def on_leave(org: dict[str, Any], leave_from: date | None, leave_until: date | None) -> None:
    record_leave(
        Viewer(org["east_manager"]),
        org["rep_a"].pk,
        leave_from=leave_from,
        leave_until=leave_until,
        cover_id=org["rep_b"].pk if leave_from else None,
    )


def due(customer: Customer) -> tuple[datetime | None, datetime | None]:
    customer.refresh_from_db()
    return customer.recycle_due_at, customer.warn_at


def assert_clean(now: datetime) -> None:
    report = run_checks(now=now)
    assert report.ok, (report.problems, report.examples)


# --- pause (the default) -----------------------------------------------------------------------


def test_recording_a_leave_pushes_the_due_time_by_its_length(
    org: dict[str, Any], held: Customer
) -> None:
    assert due(held) == (T0 + 10 * DAY, T0 + 8 * DAY)
    on_leave(org, LEAVE_FROM, LEAVE_UNTIL)
    assert due(held) == (T0 + 13 * DAY, T0 + 11 * DAY)
    assert_clean(T0)


@pytest.mark.parametrize(
    "moment",
    [
        *(T0 + 2 * DAY, LEAVE_START, LEAVE_START + DAY, LEAVE_END - timedelta(minutes=1)),
        *(T0 + 10 * DAY, T0 + 13 * DAY - timedelta(minutes=1)),
    ],
    ids=["before", "leave-starts", "during", "last-minute", "old-due-time", "just-before-due"],
)
def test_nothing_is_recycled_before_the_paused_clock_runs_out(
    org: dict[str, Any], held: Customer, moment: datetime
) -> None:
    on_leave(org, LEAVE_FROM, LEAVE_UNTIL)
    report = sweep(moment)
    assert report.recycled == []
    assert Customer.objects.get(pk=held.pk).owner_id == org["rep_a"].pk
    assert_clean(moment)


def test_the_countdown_resumes_after_the_leave_and_recycles_at_its_end(
    org: dict[str, Any], held: Customer
) -> None:
    on_leave(org, LEAVE_FROM, LEAVE_UNTIL)
    report = sweep(T0 + 13 * DAY)
    assert [r.customer for r in report.recycled] == [held.pk]
    assert Customer.objects.get(pk=held.pk).status == "pooled"
    assert_clean(T0 + 13 * DAY)


def test_a_customer_given_during_the_leave_starts_counting_when_it_ends(
    org: dict[str, Any], east: Pool, make_customer: MakeCustomer
) -> None:
    on_leave(org, LEAVE_FROM, LEAVE_UNTIL)
    given = make_customer(org["east_manager"], owner=org["rep_a"], pool=east, now=LEAVE_START)
    assert due(given)[0] == LEAVE_END + 10 * DAY
    assert_clean(LEAVE_START)


def test_a_follow_up_during_the_leave_restarts_the_clock_from_its_end(
    org: dict[str, Any], held: Customer
) -> None:
    on_leave(org, LEAVE_FROM, LEAVE_UNTIL)
    followups.log_activity(
        org["rep_a"], held.pk, kind="call", occurred_at=LEAVE_START + DAY, now=LEAVE_START + DAY
    )
    assert due(held)[0] == LEAVE_END + 10 * DAY
    assert_clean(LEAVE_START + DAY)


def test_clearing_the_leave_restores_the_plain_countdown(
    org: dict[str, Any], held: Customer
) -> None:
    on_leave(org, LEAVE_FROM, LEAVE_UNTIL)
    on_leave(org, None, None)
    assert due(held) == (T0 + 10 * DAY, T0 + 8 * DAY)
    assert_clean(T0)


def test_a_policy_change_keeps_the_leave_in_the_recomputed_schedules(
    org: dict[str, Any], held: Customer, make_customer: MakeCustomer
) -> None:
    other = make_customer(org["rep_b"], owner=org["rep_b"], pool=held.pool, now=T0)
    on_leave(org, LEAVE_FROM, LEAVE_UNTIL)
    pools.save_pool(Pool.objects.get(pk=held.pool_id), recycle_policy={"idle_days": 20})
    assert due(held)[0] == T0 + 23 * DAY
    assert due(other)[0] == T0 + 20 * DAY
    assert_clean(T0)


def test_the_page_note_says_the_countdown_is_paused(org: dict[str, Any], held: Customer) -> None:
    today = timezone.localdate()
    on_leave(org, today - DAY, today + DAY)
    held.refresh_from_db()
    note = leave_note(held)
    assert note is not None and (note.mode, note.until) == ("pause", today + DAY)


# --- cover -------------------------------------------------------------------------------------


@pytest.fixture
def covered(org: dict[str, Any], held: Customer) -> Customer:
    """The pool names a cover; rep_a is on leave today, rep_b covers."""
    policy(held.pool, leave_mode="cover")
    today = timezone.localdate()
    on_leave(org, today - DAY, today + 2 * DAY)
    held.refresh_from_db()
    return held


def test_in_cover_mode_the_clocks_run(org: dict[str, Any], covered: Customer) -> None:
    assert due(covered)[0] == T0 + 10 * DAY
    assert_clean(T0)


def test_the_cover_colleague_sees_and_follows_up_the_customers(
    org: dict[str, Any], covered: Customer
) -> None:
    cover = Viewer(org["rep_b"])
    seen = cover.customers().get(pk=covered.pk)
    assert cover.sees_in_full(seen) and may_work_on(cover, seen)
    assert not may_move(cover, seen)  # following up, not giving away
    followups.log_activity(org["rep_b"], covered.pk, kind="visit", note="代为回访")
    assert Activity.objects.get(customer=covered).author == org["rep_b"]
    note = leave_note(Customer.objects.select_related("owner", "pool").get(pk=covered.pk))
    assert note is not None and (note.mode, note.cover) == ("cover", "REP_B")
    assert_clean(timezone.now())


def test_the_cover_may_not_release_the_customer(org: dict[str, Any], covered: Customer) -> None:
    from highseas.pools import ownership

    with pytest.raises(HighSeasError) as refused:
        ownership.release(org["rep_b"], covered.pk, reason="不是我的")
    assert refused.value.code is ErrorCode.NOT_OWNER
    assert Customer.objects.get(pk=covered.pk).owner_id == org["rep_a"].pk


def test_someone_else_neither_sees_nor_follows_up(org: dict[str, Any], covered: Customer) -> None:
    stranger = Viewer(org["rep_c"])
    assert not stranger.customers().filter(pk=covered.pk).exists()
    with pytest.raises(HighSeasError) as refused:
        followups.log_activity(org["rep_c"], covered.pk, kind="call")
    assert refused.value.code is ErrorCode.NOT_OWNER
    assert not Activity.objects.filter(customer=covered).exists()


def test_the_cover_sees_nothing_once_the_leave_is_over(
    org: dict[str, Any], covered: Customer
) -> None:
    today = timezone.localdate()
    on_leave(org, today - 5 * DAY, today - DAY)
    assert not Viewer(org["rep_b"]).customers().filter(pk=covered.pk).exists()
    with pytest.raises(HighSeasError):
        followups.log_activity(org["rep_b"], covered.pk, kind="call")


def test_in_a_pause_pool_the_cover_sees_nothing(org: dict[str, Any], held: Customer) -> None:
    today = timezone.localdate()
    on_leave(org, today - DAY, today + DAY)
    assert not Viewer(org["rep_b"]).customers().filter(pk=held.pk).exists()


# --- who may record a leave, and what may be sent -----------------------------------------------


def test_a_rep_may_not_record_a_leave(org: dict[str, Any], held: Customer) -> None:
    with pytest.raises(HighSeasError) as refused:
        record_leave(
            Viewer(org["rep_b"]), org["rep_a"].pk, leave_from=LEAVE_FROM, leave_until=LEAVE_UNTIL
        )
    assert refused.value.code is ErrorCode.PERMISSION_DENIED
    assert RepProfile.objects.get(user=org["rep_a"]).leave_from is None
    assert due(held)[0] == T0 + 10 * DAY


def test_another_teams_manager_may_not_record_a_leave(org: dict[str, Any], held: Customer) -> None:
    with pytest.raises(HighSeasError) as refused:
        record_leave(
            Viewer(org["south_manager"]),
            org["rep_a"].pk,
            leave_from=LEAVE_FROM,
            leave_until=LEAVE_UNTIL,
        )
    assert refused.value.code is ErrorCode.NOT_FOUND
    assert RepProfile.objects.get(user=org["rep_a"]).leave_from is None


@pytest.mark.parametrize(
    "dates", [(LEAVE_UNTIL, LEAVE_FROM), (LEAVE_FROM, None)], ids=["reversed", "open-ended"]
)
def test_a_leave_without_an_ordered_first_and_last_day_is_refused(
    org: dict[str, Any], held: Customer, dates: tuple[date, date | None]
) -> None:
    with pytest.raises(HighSeasError) as refused:
        record_leave(
            Viewer(org["admin"]), org["rep_a"].pk, leave_from=dates[0], leave_until=dates[1]
        )
    assert refused.value.code is ErrorCode.VALIDATION_ERROR
    assert due(held)[0] == T0 + 10 * DAY


def test_a_cover_outside_the_managers_team_is_refused(org: dict[str, Any], held: Customer) -> None:
    with pytest.raises(HighSeasError) as refused:
        record_leave(
            Viewer(org["east_manager"]),
            org["rep_a"].pk,
            leave_from=LEAVE_FROM,
            leave_until=LEAVE_UNTIL,
            cover_id=org["rep_c"].pk,
        )
    assert refused.value.code is ErrorCode.PERMISSION_DENIED
    assert RepProfile.objects.get(user=org["rep_a"]).leave_cover is None


def test_the_api_shows_and_changes_the_leave_mode_and_refuses_another_value(
    org: dict[str, Any], api: Callable[[User], APIClient]
) -> None:
    admin = api(org["admin"])
    url = f"/api/v1/pools/{org['east_pool'].pk}/"
    assert admin.get(url).json()["recycle_policy"]["leave_mode"] == "pause"
    refused = admin.patch(url, {"recycle_policy": {"leave_mode": "holiday"}}, format="json")
    assert (refused.status_code, refused.json()["code"]) == (400, "validation_error")
    assert RecyclePolicy.objects.get(pool=org["east_pool"]).leave_mode == "pause"
    changed = admin.patch(url, {"recycle_policy": {"leave_mode": "cover"}}, format="json")
    assert changed.status_code == 200, changed.json()
    assert changed.json()["recycle_policy"]["leave_mode"] == "cover"
    rep = api(org["rep_a"]).patch(url, {"recycle_policy": {"leave_mode": "pause"}}, format="json")
    assert rep.status_code == 403
    assert RecyclePolicy.objects.get(pool=org["east_pool"]).leave_mode == "cover"


def test_a_claim_by_a_rep_with_a_recorded_leave_is_scheduled_around_it(
    org: dict[str, Any], east: Pool, make_customer: MakeCustomer
) -> None:
    from highseas.pools import ownership

    pooled = make_customer(org["admin"], pool=east, now=T0)
    on_leave(org, LEAVE_FROM, LEAVE_UNTIL)
    ownership.claim(org["rep_a"], pooled.pk, now=T0)
    assert due(pooled) == (T0 + 13 * DAY, T0 + 11 * DAY)
    assert_clean(T0)


def test_rules_assigning_to_a_rep_with_a_recorded_leave_schedule_around_it(
    org: dict[str, Any], east: Pool, make_customer: MakeCustomer
) -> None:
    from highseas.routing.models import AssignmentRule
    from highseas.routing.services import Trigger, assign_new_customers

    pooled = make_customer(org["admin"], pool=east, now=T0)
    on_leave(org, LEAVE_FROM, LEAVE_UNTIL)
    AssignmentRule.objects.create(name="给 A", target={"user": org["rep_a"].pk}, conditions={})
    assign_new_customers(org["admin"], [pooled.pk], trigger=Trigger.MANUAL, now=T0, seed=1)
    assert Customer.objects.get(pk=pooled.pk).owner_id == org["rep_a"].pk
    assert due(pooled)[0] == T0 + 13 * DAY
    assert_clean(T0)


def test_the_api_records_a_leave_and_reschedules(
    org: dict[str, Any], held: Customer, api: Callable[[User], APIClient]
) -> None:
    url = f"/api/v1/users/{org['rep_a'].pk}/leave/"
    body = {"leave_from": "2026-11-05", "leave_until": "2026-11-07", "cover": org["rep_b"].pk}
    answer = api(org["east_manager"]).post(url, body, format="json")
    assert answer.status_code == 200, answer.json()
    assert answer.json() == {"user": org["rep_a"].pk, **body}
    assert due(held)[0] == T0 + 13 * DAY
    refused = api(org["rep_b"]).post(url, {"leave_from": None, "leave_until": None}, format="json")
    assert (refused.status_code, refused.json()["code"]) == (403, "permission_denied")
    assert RepProfile.objects.get(user=org["rep_a"]).leave_from == LEAVE_FROM
    bad = api(org["admin"]).post(url, {"leave_from": "2026-11-07", "leave_until": "2026-11-05"})
    assert (bad.status_code, bad.json()["code"]) == (400, "validation_error")
    assert due(held)[0] == T0 + 13 * DAY


@pytest.mark.parametrize(
    "dates",
    [(date(2026, 1, 1), date(2027, 6, 1)), (date(9999, 12, 30), date(9999, 12, 31))],
    ids=["longer-than-a-year", "end-of-time"],
)
def test_a_leave_too_long_or_out_of_range_is_refused(
    org: dict[str, Any], held: Customer, dates: tuple[date, date]
) -> None:
    with pytest.raises(HighSeasError) as refused:
        record_leave(
            Viewer(org["admin"]), org["rep_a"].pk, leave_from=dates[0], leave_until=dates[1]
        )
    assert refused.value.code is ErrorCode.VALIDATION_ERROR
    assert RepProfile.objects.get(user=org["rep_a"]).leave_from is None
