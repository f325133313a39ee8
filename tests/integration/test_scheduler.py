"""The periodic jobs: one that crashes is logged with its traceback and named in the figures,
and the others still run; the worker keeps going after a failed round."""

from __future__ import annotations

import io
import json
import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone
from pytest_django.fixtures import Settings

from highseas.customers.models import Customer, Task
from highseas.notify.models import Notification
from highseas.pools import ownership, scheduler
from highseas.pools.models import ClaimPolicy, ClaimRequest, Pool, RecyclePolicy

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=timezone.get_default_timezone())
LATER = T0 + timedelta(days=8)
NO_REMINDERS = {"next_contact": 0, "birthday": 0, "important_date": 0, "task_due": 0}


def crash(*args: Any, **kwargs: Any) -> Any:
    raise RuntimeError("the database went away")


@pytest.fixture
def work(org: dict[str, Any], make_customer: Callable[..., Customer]) -> dict[str, Any]:
    """At LATER: one customer due for recycling, one claim request expired, one task due."""
    RecyclePolicy.objects.filter(pool=org["east_pool"]).update(idle_days=7)
    pool = Pool.objects.get(pk=org["east_pool"].pk)
    due = make_customer(org["admin"], owner=org["rep_a"], pool=pool, now=T0)
    ClaimPolicy.objects.filter(pool=org["south_pool"]).update(
        requires_approval=True, approval_expiry_hours=24
    )
    asked = make_customer(org["admin"], pool=Pool.objects.get(pk=org["south_pool"].pk), now=T0)
    ownership.claim(org["rep_c"], asked.pk, now=T0)
    Task.objects.create(title="寄送合同", assignee=org["rep_b"], due_at=LATER)
    return {"due": due, "asked": asked}


@pytest.mark.django_db
def test_a_crashed_sweep_is_logged_and_the_other_jobs_still_run(
    org: dict[str, Any],
    work: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setattr(scheduler, "sweep", crash)
    with caplog.at_level(logging.ERROR, logger="highseas.scheduler"):
        figures = scheduler.run_periodic_jobs(LATER)
    assert "recycled" not in figures  # the other apps' registered jobs add their own keys
    keys = ("failed", "expired_requests", "reminders", "deliveries")
    assert {key: figures[key] for key in keys} == {
        "failed": ["sweep"],
        "expired_requests": 1,
        "reminders": {**NO_REMINDERS, "task_due": 1},
        "deliveries": {"delivered": 0, "retrying": 0, "failed": 0},
    }
    assert ClaimRequest.objects.get().state == "expired"
    assert Notification.objects.filter(kind="task_due", recipient=org["rep_b"]).count() == 1
    (record,) = [r for r in caplog.records if r.exc_info]
    assert "sweep" in record.getMessage()
    assert "RuntimeError: the database went away" in caplog.text  # the traceback is logged


@pytest.mark.django_db
def test_a_crashed_reminder_job_is_named_and_the_sweep_still_counts(
    work: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(scheduler, "send_due_reminders", crash)
    figures = scheduler.run_periodic_jobs(LATER)
    assert figures["failed"] == ["reminders"]
    assert (figures["recycled"], figures["unfrozen"], figures["expired_requests"]) == (1, 0, 1)
    assert "reminders" not in figures
    work["due"].refresh_from_db()
    assert work["due"].status == "pooled"


@pytest.mark.django_db
def test_a_clean_round_names_no_failure(work: dict[str, Any]) -> None:
    figures = scheduler.run_periodic_jobs(LATER)
    assert figures["failed"] == []
    assert (figures["recycled"], figures["expired_requests"]) == (1, 1)
    assert figures["reminders"] == {**NO_REMINDERS, "task_due": 1}


@pytest.mark.django_db(transaction=True)
def test_the_worker_loop_keeps_running_after_failed_rounds(
    work: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    stop = threading.Event()
    rounds: list[datetime] = []

    def remind(now: datetime) -> dict[str, int]:
        rounds.append(now)
        if len(rounds) == 3:
            stop.set()
        return NO_REMINDERS

    monkeypatch.setattr(scheduler, "sweep", crash)
    monkeypatch.setattr(scheduler, "send_due_reminders", remind)
    runner = threading.Thread(target=scheduler.run_forever, args=(0.01, stop), daemon=True)
    runner.start()
    stopped = stop.wait(timeout=15)
    stop.set()
    runner.join(timeout=30)
    assert stopped, "every round should reach the reminders although its sweep crashed"
    assert len(rounds) == 3 and not runner.is_alive()


@pytest.mark.django_db
def test_worker_once_prints_the_figures_and_fails_when_a_job_failed(
    work: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(scheduler, "send_due_reminders", crash)
    out = io.StringIO()
    with pytest.raises(CommandError, match="periodic jobs failed: reminders"):
        call_command("worker", "--once", stdout=out)
    assert json.loads(out.getvalue())["failed"] == ["reminders"]


@pytest.mark.django_db
def test_worker_at_another_moment_needs_time_travel(
    work: dict[str, Any], settings: Settings
) -> None:
    settings.ALLOW_TIME_TRAVEL = False
    with pytest.raises(CommandError, match="HIGHSEAS_ALLOW_TIME_TRAVEL"):
        call_command("worker", "--once", "--now", LATER.isoformat(), stdout=io.StringIO())
    work["due"].refresh_from_db()
    assert work["due"].status == "owned"
    settings.ALLOW_TIME_TRAVEL = True
    out = io.StringIO()
    call_command("worker", "--once", "--now", LATER.isoformat(), "--batch-size", "5", stdout=out)
    figures = json.loads(out.getvalue())
    assert (figures["failed"], figures["recycled"], figures["expired_requests"]) == ([], 1, 1)


@pytest.mark.django_db
def test_worker_now_is_for_one_round_only() -> None:
    with pytest.raises(CommandError, match="--now needs --once"):
        call_command("worker", "--now", LATER.isoformat(), stdout=io.StringIO())
