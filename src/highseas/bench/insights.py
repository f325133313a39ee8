"""``highseas bench insights``: the manager dashboard and the insight endpoints at scale
(SPEC §12: 1M customers and 10M activities, p95 < 500 ms).

1. Reuse the demo organization in the database (``highseas demo --customers …`` first); the
   figures name how many customers, activities and ledger rows it holds.
2. The per-rep days (``insights.snapshots``): the closed days not rolled yet are rolled
   first (``rolled_days``, ``roll_up_s``; a fresh database is backfilled by ``highseas
   rollup``, which the run does not time).
3. For a manager (the one whose subtree holds the most customers) and for an admin, load
   each of ``PATHS`` through Django's test client in this process (the whole view: session,
   permission, queries, template). The user's cached figures (``insights.cache``) are
   forgotten first, so the first load computes them live and stores them: ``cold_ms``, the
   time a load takes once per refresh when the scheduler is not running, and what
   ``?exact=1`` costs. Then ``WARM_UP`` loads and ``--requests`` timed loads; p50, p95,
   max, the CPU time of the process per load (p50, p95: it moves less than the wall-clock on
   a loaded machine), and the SQL statements of one load.
4. Baseline, in the same run: the raw SQL of the aggregates the dashboard needs at least —
   held customers per rep of the manager's team, claims and recycles per rep over 30 days,
   pooled customers per pool — on the DB-API cursor, timed the same way.

5. With ``--profile N`` (N ≥ 1), one more load of each path under cProfile after its timed
   loads: its self time by layer (database, ORM, templates, HighSeas, …) and costliest
   functions (``bench.breakdown``) join the path's line.

One JSON line per path and user (``path``, ``user``, ``p50_ms``, ``p95_ms``, ``max_ms``,
``cpu_p50_ms``, ``cpu_p95_ms``, ``cold_ms``, ``queries``, ``target_ms``, ``meets_target``,
``baseline_p95_ms``, ``ratio_p95``) and one for the baseline.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand
from django.db import connection
from django.db.models import Count, Q
from django.test import Client
from django.utils import timezone

from highseas.accounts.models import Role, User
from highseas.accounts.visibility import Viewer
from highseas.bench import BenchError, Lines, report, require_demo
from highseas.bench.breakdown import describe, profiled
from highseas.config import heap
from highseas.customers.models import Activity, Customer
from highseas.insights import snapshots
from highseas.insights.models import FigureCache, RolledDay
from highseas.pools.models import OwnershipEvent

WARM_UP = 1
TARGET_MS = 500.0
PATHS = (
    "/console/",
    "/console/insights/",
    "/api/v1/insights/reps/",  # every rep in view, unpaged (an admin: thousands)
    "/api/v1/insights/reps/?sort=-claims&page_size=50",  # the first ranked page
    "/api/v1/insights/fairness/",
)


@dataclass(frozen=True)
class InsightsBenchOptions:
    requests: int = 10
    profile: bool = False  # one more load per path under cProfile (module docstring, step 5)


def _percentiles(latencies: list[float]) -> dict[str, float]:
    ordered = sorted(latencies)
    if len(ordered) == 1:
        p50 = p95 = ordered[0]
    else:
        cuts = statistics.quantiles(ordered, n=100, method="inclusive")
        p50, p95 = cuts[49], cuts[94]
    return {
        "p50_ms": round(p50 * 1000, 1),
        "p95_ms": round(p95 * 1000, 1),
        "max_ms": round(ordered[-1] * 1000, 1),
    }


def _timed(action: Callable[[], Any], runs: int) -> dict[str, float]:
    """Wall-clock p50/p95/max of ``runs`` calls after the warm-up, and the CPU time this
    process spent in each (``cpu_p50_ms``, ``cpu_p95_ms``: SQLite runs in the process, so its
    work counts; on a loaded machine the CPU time moves less than the wall-clock)."""
    for _ in range(WARM_UP):
        action()
    latencies, cpu = [], []
    for _ in range(runs):
        started, spent = time.perf_counter(), time.process_time()
        action()
        latencies.append(time.perf_counter() - started)
        cpu.append(time.process_time() - spent)
    cpu_cut = _percentiles(cpu)
    return _percentiles(latencies) | {
        "cpu_p50_ms": cpu_cut["p50_ms"],
        "cpu_p95_ms": cpu_cut["p95_ms"],
    }


def _counting(queries: list[str]) -> Callable[..., Any]:
    """An execute wrapper that notes each statement (the request signals reset Django's own
    query log, so it cannot count a whole request)."""

    def wrapper(execute: Callable[..., Any], sql: str, *args: Any) -> Any:
        queries.append(sql)
        return execute(sql, *args)

    return wrapper


def _manager() -> User:
    managers = User.objects.filter(role=Role.MANAGER, is_active=True)
    sized = [(Viewer(m).users().filter(role=Role.REP).count(), m.username, m) for m in managers]
    if not sized:
        raise BenchError("no manager: run `highseas demo --customers 1000000` first")
    return max(sized, key=lambda row: row[:2])[2]


def _baseline(manager: User) -> Callable[[], None]:
    """The aggregates the dashboard needs at least, in raw SQL (module docstring, step 3)."""
    reps = list(Viewer(manager).users().filter(role=Role.REP).values_list("pk", flat=True))
    marks = ", ".join(["%s"] * len(reps))
    customer, event = Customer._meta.db_table, OwnershipEvent._meta.db_table
    since = timezone.now() - timedelta(days=30)
    statements: list[tuple[str, list[Any]]] = [
        (
            f"SELECT owner_id, COUNT(*) FROM {customer} WHERE owner_id IN ({marks}) "
            "AND status IN ('owned', 'frozen') GROUP BY owner_id",
            reps,
        ),
        (
            f"SELECT to_owner_id, COUNT(*) FROM {event} WHERE kind = 'claimed' AND at >= %s "
            f"AND to_owner_id IN ({marks}) GROUP BY to_owner_id",
            [since, *reps],
        ),
        (
            f"SELECT from_owner_id, COUNT(*) FROM {event} WHERE kind = 'recycled' AND at >= %s "
            f"AND from_owner_id IN ({marks}) GROUP BY from_owner_id",
            [since, *reps],
        ),
        (
            f"SELECT pool_id, COUNT(*) FROM {customer} WHERE status = 'pooled' GROUP BY pool_id",
            [],
        ),
    ]

    def run() -> None:
        with connection.cursor() as cursor:
            for sql, params in statements:
                cursor.execute(sql, params)
                cursor.fetchall()

    return run


def _loader(client: Client, path: str) -> Callable[[], Any]:
    return lambda: client.get(path)


def measure(options: InsightsBenchOptions) -> Lines:
    require_demo()
    customers = Customer.objects.count()
    manager = _manager()
    admin = User.objects.filter(role=Role.ADMIN, is_active=True).order_by("pk").first()
    scale = {
        "customers": customers,
        "activities": Activity.objects.count(),
        "ledger_rows": OwnershipEvent.objects.count(),
        "reps_in_view": Viewer(manager).users().filter(role=Role.REP).count(),
        "held_in_view": Customer.objects.filter(
            Q(owner__in=Viewer(manager).users()), status__in=("owned", "frozen")
        ).aggregate(n=Count("id"))["n"],
    }
    started = time.perf_counter()
    rolled = snapshots.roll_up(timezone.now()).get("rep_days", 0)
    scale["rolled_days"] = RolledDay.objects.count()
    scale["roll_up_s"] = round(time.perf_counter() - started, 2)
    scale["rep_days_written"] = rolled
    heap.settle()  # as `highseas serve` and each production worker do once started
    baseline = _timed(_baseline(manager), options.requests)
    lines: Lines = [{"path": "raw_sql_dashboard_aggregates", "user": manager.username, **baseline}]
    for user in (manager, admin):
        if user is None:
            continue
        client = Client()
        client.force_login(user)
        FigureCache.objects.filter(key__contains=f"|{user.pk}|").delete()
        for path in PATHS:
            started = time.perf_counter()
            response = client.get(path)
            cold_ms = round((time.perf_counter() - started) * 1000, 1)
            if response.status_code != 200:
                raise BenchError(f"{path} answered {response.status_code} for {user.username}")
            queries: list[str] = []
            with connection.execute_wrapper(_counting(queries)):
                client.get(path)
            found = _timed(_loader(client, path), options.requests)
            if options.profile:
                found |= profiled(_loader(client, path))[1]
            lines.append(
                {
                    "path": path,
                    "user": user.username,
                    **found,
                    "cold_ms": cold_ms,
                    "queries": len(queries),
                    "target_ms": TARGET_MS,
                    "meets_target": found["p95_ms"] < TARGET_MS,
                    "baseline_p95_ms": baseline["p95_ms"],
                    "ratio_p95": round(found["p95_ms"] / max(baseline["p95_ms"], 0.001), 1),
                    **scale,
                }
            )
    return lines


def summary(lines: Lines) -> str:
    rows = []
    for line in lines:
        ratio = f"  ×{line['ratio_p95']} raw" if "ratio_p95" in line else ""
        cold = f"  (cold {line['cold_ms']} ms)" if "cold_ms" in line else ""
        rows.append(
            f"{line['path']:<50} {line['user']:<14} p50 {line['p50_ms']:>9} ms  "
            f"p95 {line['p95_ms']:>9} ms  cpu {line['cpu_p50_ms']:>7}/{line['cpu_p95_ms']:<7} ms"
            f"{ratio}{cold}"
        )
        if "self_seconds_by_layer" in line:
            rows.append(f"  profiled {line['profiled_seconds']:.2f} s: {describe(line)}")
    return "\n".join(rows)


def run_from_command(command: BaseCommand, options: dict[str, Any]) -> None:
    chosen = InsightsBenchOptions(
        requests=options.get("requests") or 10, profile=bool(options.get("profile"))
    )
    report(command, lambda: measure(chosen), summary)
