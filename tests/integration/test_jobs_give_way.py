"""A long job of the embedded server's scheduler gives way to the requests in flight
(``config.traffic``): on the jobs' thread it sleeps while a request is answered, never longer
than ``LONGEST_S`` at once, and not at all elsewhere or once the requests are over."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from highseas.bench.dataset import insert_customers
from highseas.config import traffic
from highseas.config.sqlite.base import JOBS_THREAD
from highseas.customers.models import Customer
from highseas.insights import value
from highseas.insights.value import scheduled_rescore, scored_changes, value_settings

# solo: timed, or several processes that want both cores; run alone (scripts/test)
pytestmark = pytest.mark.solo


@contextmanager
def request_in_flight() -> Iterator[None]:
    """A request held in the middleware (its view waits) until the block ends."""
    entered, leave = threading.Event(), threading.Event()

    def view(request: Any) -> str:
        entered.set()
        leave.wait(10)
        return "answered"

    middleware = traffic.InFlight(view)
    thread = threading.Thread(target=middleware, args=(RequestFactory().get("/"),))
    thread.start()
    assert entered.wait(5)
    try:
        yield
    finally:
        leave.set()
        thread.join(5)


def on_jobs_thread(work: Callable[[], Any]) -> Any:
    found: dict[str, Any] = {}

    def run() -> None:
        try:
            found["result"] = work()
        finally:
            connection.close()

    thread = threading.Thread(target=run, name=JOBS_THREAD)
    thread.start()
    thread.join(120)
    return found["result"]


def quiet() -> None:
    time.sleep(traffic.QUIET_S * 2)


def test_a_jobs_thread_waits_while_a_request_is_answered_and_no_longer_than_the_bound() -> None:
    quiet()
    assert on_jobs_thread(traffic.give_way) == 0.0  # nobody asks
    with request_in_flight():
        assert traffic.TRAFFIC.in_flight == 1
        slept = on_jobs_thread(traffic.give_way)
        assert traffic.LONGEST_S <= slept < traffic.LONGEST_S + 0.5
        assert traffic.give_way() == 0.0  # a request's (here: the test's) thread never waits
    assert traffic.TRAFFIC.in_flight == 0
    assert time.monotonic() - traffic.TRAFFIC.last_end < 5  # the end is noted

    def just_after_a_request() -> float:  # a thread's start may take longer than QUIET_S
        traffic.TRAFFIC.last_end = time.monotonic()
        return traffic.give_way()

    assert 0.0 < on_jobs_thread(just_after_a_request) <= traffic.QUIET_S + 0.5
    quiet()
    assert on_jobs_thread(traffic.give_way) == 0.0


def test_a_request_that_fails_is_counted_out_too() -> None:
    def failing(request: Any) -> Any:
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        traffic.InFlight(failing)(RequestFactory().get("/"))
    assert traffic.TRAFFIC.in_flight == 0


@pytest.mark.django_db(transaction=True)
def test_the_daily_rescore_gives_way_to_requests_on_the_jobs_thread(
    org: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Over thousands of customers the re-evaluation computes for more than a slice: with a
    request in flight it sleeps between slices; it still finishes with the same outcome."""
    insert_customers(org["east_pool"], org["admin"], 3_000)
    calls: list[float] = []
    give_way = traffic.give_way

    def counted() -> float:
        calls.append(slept := give_way())
        return slept

    monkeypatch.setattr(traffic, "give_way", counted)
    now = timezone.now() + timedelta(days=1)
    with request_in_flight():
        busy = on_jobs_thread(lambda: scheduled_rescore(now, force=True))
    assert calls and sum(calls) >= traffic.STEP_S
    calls.clear()
    quiet()
    again = on_jobs_thread(lambda: scheduled_rescore(now, force=True))
    assert sum(calls) == 0.0  # nobody in flight: it never waits
    assert busy["rescored"] > 0 and again == {"rescored": 0}  # the first did the work


@pytest.mark.django_db
def test_the_rescore_reads_the_customers_a_page_at_a_time_with_the_same_outcome(
    org: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each page its own statement, so a walk slowed by a rush holds no read open for its
    whole length; the changes are those of one read of every customer."""
    insert_customers(org["east_pool"], org["admin"], 1_200)
    customers = Customer.objects.filter(merged_into__isnull=True)
    now = timezone.now()
    whole = list(scored_changes(customers, now, value_settings()))
    monkeypatch.setattr(value, "RESCORE_PAGE", 250)
    with CaptureQueriesContext(connection) as queries:
        paged = list(scored_changes(customers, now, value_settings()))
    assert whole and paged == whole
    assert sum("LIMIT 250" in query["sql"] for query in queries) == 6  # 4 × 250, 200, none
