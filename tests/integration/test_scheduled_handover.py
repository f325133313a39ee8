"""Departure handover at a date (离职交接 "now or at a date"): stored with who, where, when and
by whom; the periodic jobs run it at that moment as the same resumable job; cancellable until
it starts; refusals leave no row."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.utils import timezone

from highseas.accounts.models import User
from highseas.accounts.visibility import Viewer
from highseas.customers.models import Customer
from highseas.engine.errors import ErrorCode, HighSeasError
from highseas.pools import scheduler
from highseas.pools.invariants import run_checks
from highseas.pools.models import OwnershipEvent
from highseas.routing import handover as handover_module
from highseas.routing.models import ScheduledHandover
from highseas.routing.scheduled import LEASE, cancel_handover, schedule_handover

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=timezone.get_default_timezone())
AT = T0 + timedelta(days=5)
MakeCustomer = Callable[..., Customer]


@pytest.fixture
def owned(org: dict[str, Any], make_customer: MakeCustomer) -> list[Customer]:
    rep = org["rep_a"]
    return [make_customer(rep, owner=rep, pool=org["east_pool"], now=T0) for _ in range(12)]


def _schedule(org: dict[str, Any], to: Any = None, by: str = "east_manager") -> ScheduledHandover:
    target = org["rep_b"].pk if to is None else to
    return schedule_handover(Viewer(org[by]), org["rep_a"].pk, to=target, at=AT, now=T0)


def owned_by(user: User) -> int:
    return Customer.objects.filter(owner=user).count()


def transfers() -> Counter[int]:
    rows = OwnershipEvent.objects.filter(
        kind="transferred", reason__in=["Departure handover", "离职交接"]
    )
    return Counter(rows.values_list("customer_id", flat=True))


def test_a_scheduled_handover_is_stored_with_who_where_when_and_by_whom(
    org: dict[str, Any], owned: list[Customer]
) -> None:
    row = _schedule(org)
    assert (row.rep, row.to, row.receiver, row.run_at, row.created_by, row.state) == (
        org["rep_a"],
        "user",
        org["rep_b"],
        AT,
        org["east_manager"],
        "scheduled",
    )


def test_it_runs_at_its_moment_not_before(org: dict[str, Any], owned: list[Customer]) -> None:
    row = _schedule(org)
    before = scheduler.run_periodic_jobs(AT - timedelta(minutes=1))
    assert "handovers" not in before
    assert owned_by(org["rep_a"]) == 12
    figures = scheduler.run_periodic_jobs(AT)
    assert (figures["handovers"], figures["handovers_failed"], figures["failed"]) == (1, 0, [])
    row.refresh_from_db()
    assert row.state == "done"
    assert (row.result["moved"], row.result["remaining"]) == (12, 0)
    assert (owned_by(org["rep_a"]), owned_by(org["rep_b"])) == (0, 12)
    assert transfers() == Counter(c.pk for c in owned)
    assert OwnershipEvent.objects.filter(kind="transferred").first().actor == org["east_manager"]
    assert scheduler.run_periodic_jobs(AT + timedelta(hours=1)).get("handovers") is None
    assert run_checks(now=AT).ok


def test_to_the_pools_at_a_date(org: dict[str, Any], owned: list[Customer]) -> None:
    _schedule(org, to="pools")
    scheduler.run_periodic_jobs(AT + timedelta(days=1))
    assert set(Customer.objects.values_list("status", flat=True)) == {"pooled"}


def test_a_run_killed_halfway_is_resumed_after_its_lease_without_doubling(
    org: dict[str, Any], owned: list[Customer], monkeypatch: pytest.MonkeyPatch
) -> None:
    row = _schedule(org)
    real = handover_module.handover

    def killed(*args: Any, **kwargs: Any) -> Any:
        def die_after_one(batches: int) -> None:
            raise KeyboardInterrupt

        return real(*args, **{**kwargs, "batch_size": 5, "after_batch": die_after_one})

    monkeypatch.setattr("highseas.routing.scheduled.handover", killed)
    with pytest.raises(KeyboardInterrupt):
        scheduler.run_periodic_jobs(AT)
    row.refresh_from_db()
    assert (row.state, row.attempts, owned_by(org["rep_b"])) == ("running", 1, 5)
    monkeypatch.setattr("highseas.routing.scheduled.handover", real)
    assert "handovers" not in scheduler.run_periodic_jobs(AT + LEASE - timedelta(minutes=1))
    figures = scheduler.run_periodic_jobs(AT + LEASE)
    assert figures["handovers"] == 1
    row.refresh_from_db()
    assert (row.state, row.attempts, row.result["moved"]) == ("done", 2, 7)
    assert transfers() == Counter(c.pk for c in owned)
    assert (owned_by(org["rep_a"]), owned_by(org["rep_b"])) == (0, 12)


def test_a_cancelled_handover_never_runs(org: dict[str, Any], owned: list[Customer]) -> None:
    row = _schedule(org)
    cancel_handover(Viewer(org["admin"]), row.pk)
    scheduler.run_periodic_jobs(AT + timedelta(days=1))
    row.refresh_from_db()
    assert (row.state, row.cancelled_by) == ("cancelled", org["admin"])
    assert owned_by(org["rep_a"]) == 12


def test_a_started_or_done_handover_can_no_longer_be_cancelled(
    org: dict[str, Any], owned: list[Customer]
) -> None:
    row = _schedule(org)
    scheduler.run_periodic_jobs(AT)
    with pytest.raises(HighSeasError) as refused:
        cancel_handover(Viewer(org["east_manager"]), row.pk)
    assert (refused.value.code, refused.value.facts) == (
        ErrorCode.STATE_CONFLICT,
        {"state": "done"},
    )


def test_a_rep_may_neither_schedule_nor_cancel(org: dict[str, Any], owned: list[Customer]) -> None:
    with pytest.raises(HighSeasError) as refused:
        _schedule(org, by="rep_b")
    assert refused.value.code is ErrorCode.PERMISSION_DENIED
    row = _schedule(org)
    with pytest.raises(HighSeasError) as not_theirs:
        cancel_handover(Viewer(org["rep_b"]), row.pk)
    assert not_theirs.value.code is ErrorCode.NOT_FOUND
    row.refresh_from_db()
    assert row.state == "scheduled"


def test_another_teams_manager_may_not_cancel(org: dict[str, Any], owned: list[Customer]) -> None:
    row = _schedule(org)
    with pytest.raises(HighSeasError) as refused:
        cancel_handover(Viewer(org["south_manager"]), row.pk)
    assert refused.value.code is ErrorCode.NOT_FOUND
    row.refresh_from_db()
    assert row.state == "scheduled"


@pytest.mark.parametrize(
    "at", [T0 - timedelta(minutes=1), T0, T0 + timedelta(days=400)], ids=["past", "now", "far"]
)
def test_a_moment_not_in_the_coming_year_is_refused_and_nothing_stored(
    org: dict[str, Any], owned: list[Customer], at: datetime
) -> None:
    with pytest.raises(HighSeasError) as refused:
        schedule_handover(Viewer(org["admin"]), org["rep_a"].pk, to="pools", at=at, now=T0)
    assert refused.value.facts == {"errors": {"at": ["out_of_range"]}}
    assert not ScheduledHandover.objects.exists()


def test_one_pending_handover_per_rep(org: dict[str, Any], owned: list[Customer]) -> None:
    _schedule(org)
    with pytest.raises(HighSeasError) as refused:
        _schedule(org, to="pools", by="admin")
    assert refused.value.code is ErrorCode.VALIDATION_ERROR
    assert ScheduledHandover.objects.count() == 1


def test_a_receiver_outside_the_managers_team_is_refused_when_scheduling(
    org: dict[str, Any], owned: list[Customer]
) -> None:
    with pytest.raises(HighSeasError) as refused:
        _schedule(org, to=org["rep_c"].pk)
    assert refused.value.code is ErrorCode.PERMISSION_DENIED
    assert not ScheduledHandover.objects.exists()


def test_a_handover_its_scheduler_may_no_longer_run_fails_and_moves_nothing(
    org: dict[str, Any], owned: list[Customer]
) -> None:
    row = _schedule(org)
    org["rep_b"].is_active = False  # the receiver left before the date
    User.objects.filter(pk=org["rep_b"].pk).update(is_active=False)
    figures = scheduler.run_periodic_jobs(AT)
    row.refresh_from_db()
    assert (figures["handovers_failed"], row.state, row.result) == (
        1,
        "failed",
        {"code": "validation_error"},
    )
    assert owned_by(org["rep_a"]) == 12
