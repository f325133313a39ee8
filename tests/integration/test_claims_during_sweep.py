"""The embedded server answers claims while the periodic jobs' thread sweeps a large backlog:
the jobs never keep the write lock from a claim for long (``config/sqlite``: one write gate
per process, request writers first; on PostgreSQL the sweep locks only its own rows)."""

from __future__ import annotations

import http.client
import threading
import time
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.db import connection
from django.utils import timezone

from highseas.accounts.tokens import issue_token
from highseas.bench.dataset import insert_customers
from highseas.config.sqlite.base import GATE, JOBS_THREAD
from highseas.customers.models import Customer
from highseas.pools import ownership, scheduler
from highseas.pools.models import ClaimPolicy, RecyclePolicy
from highseas.pools.sweep import SweepReport, sweep

# solo: timed, or several processes that want both cores; run alone (scripts/test)
pytestmark = pytest.mark.solo

DUE = 1_500
FREE = 400
BOUND_SECONDS = 1.0  # a correctness bound, not a benchmark: no claim stalls behind the sweep


def _sweep_in_jobs_thread(found: dict[str, SweepReport]) -> threading.Thread:
    def run() -> None:
        try:
            found["report"] = sweep(timezone.now(), batch_size=scheduler.embedded_batch_size())
        finally:
            connection.close()

    thread = threading.Thread(target=run, name=JOBS_THREAD, daemon=True)
    thread.start()
    return thread


@pytest.mark.django_db(transaction=True)
def test_claims_are_answered_within_a_bound_while_a_large_sweep_runs(
    org: dict[str, Any], live_server: Any
) -> None:
    pool = org["east_pool"]
    ClaimPolicy.objects.filter(pool=pool).update(
        daily_quota=None, weekly_quota=None, holding_cap=None
    )
    RecyclePolicy.objects.filter(pool=pool).update(
        idle_days=7, warn_days=None, no_deal_days=None, first_contact_hours=None
    )
    insert_customers(pool, org["admin"], DUE + FREE)
    ids = sorted(Customer.objects.filter(pool=pool).values_list("pk", flat=True))
    due, free = ids[:DUE], ids[DUE:]
    month_ago = timezone.now() - timedelta(days=30)
    for customer_id in due:
        ownership.claim(org["rep_b"], customer_id, now=month_ago)
    token = issue_token(org["rep_a"], device="tests", audited=False)[1]
    address = urlsplit(live_server.url)
    client = http.client.HTTPConnection(address.hostname or "", address.port, timeout=30)
    headers = {"Authorization": f"Token {token}", "Content-Type": "application/json"}

    client.request("GET", "/api/v1/me/", headers=headers)  # warm: the first request imports
    assert client.getresponse().read()  # the URL configuration and the views
    assert scheduler.JOBS_THREAD == JOBS_THREAD  # the gate knows the jobs' thread by name
    found: dict[str, SweepReport] = {}
    jobs = _sweep_in_jobs_thread(found)
    latencies, during = [], 0
    for customer_id in free:
        sweeping = jobs.is_alive()
        if not sweeping and during:
            break
        started = time.perf_counter()
        client.request("POST", f"/api/v1/customers/{customer_id}/claim/", b"{}", headers)
        response = client.getresponse()
        response.read()
        latencies.append(time.perf_counter() - started)
        assert response.status == 200
        during += sweeping
    jobs.join(timeout=120)

    assert len(found["report"].recycled) == DUE
    assert during > 0, "no claim ran while the sweep did"
    assert max(latencies) < BOUND_SECONDS, sorted(latencies)[-5:]
    claimed = Customer.objects.filter(pk__in=free, owner=org["rep_a"]).count()
    assert claimed == len(latencies)


def _statistics(table: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM sqlite_master WHERE name = 'sqlite_stat1'")
        if not cursor.fetchone()[0]:
            return 0
        cursor.execute("SELECT count(*) FROM sqlite_stat1 WHERE tbl = %s", [table])
        return int(cursor.fetchone()[0])


@pytest.mark.django_db(transaction=True)
def test_the_slow_lane_s_statistics_refresh_waits_for_the_write_gate_and_reads_a_bounded_sample(
    org: dict[str, Any],
) -> None:
    """``PRAGMA optimize`` writes the planner's statistics: on the embedded server it must
    queue at the write gate behind the requests like any job's write, not take SQLite's lock
    past them, and it analyzes a bounded sample (its first run on 200,000 customers held the
    lock for ~300 ms and stalled the claims behind it)."""
    if connection.vendor != "sqlite":
        pytest.skip("SQLite's planner statistics and write gate")
    insert_customers(org["east_pool"], org["admin"], 200)
    table = Customer._meta.db_table
    if _statistics(table):
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM sqlite_stat1 WHERE tbl = %s", [table])
    found: dict[str, Any] = {}
    done = threading.Event()

    def refresh() -> None:
        try:  # a query of the run on the customers' indexes, then the slow lane's refresh
            Customer.objects.filter(owner=org["rep_b"], pool=org["east_pool"]).count()
            scheduler.refresh_statistics()
            with connection.cursor() as cursor:
                cursor.execute("PRAGMA analysis_limit")
                found["limit"] = cursor.fetchone()[0]
            done.set()
        finally:
            connection.close()

    assert GATE.acquire(5.0)  # a request's writer holds the gate
    jobs = threading.Thread(target=refresh, name=JOBS_THREAD, daemon=True)
    jobs.start()
    try:
        assert not done.wait(0.5), "the refresh wrote while a request held the write gate"
    finally:
        GATE.release()
    jobs.join(timeout=30)

    assert done.is_set()
    assert found["limit"] == scheduler.ANALYSIS_ROWS
    assert _statistics(table) > 0  # it did analyze the customers
