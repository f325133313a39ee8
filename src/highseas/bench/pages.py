"""``highseas bench pages``: every page and list endpoint over HTTP, at a million customers.

1. Reuse the demo organization in the database, or build one (``highseas demo``, the
   ``--customers`` asked for) when there is none.
2. Pick the people: the rep holding the most customers, a manager with a team, an admin;
   sign each in (a session cookie for the pages, an API token for the API), as the sign-in
   forms would.
3. Start ``highseas serve`` (no scheduler: a sweep would compete with the pages) and time
   each page of ``PAGES`` for its user: ``WARM_UP`` requests, then ``--requests`` requests
   one after the other on a kept-alive connection; p50 / p95 / max of the whole request.
4. Stop the server and load each page once more in this process through Django's test
   client, counting its SQL statements and naming the slowest (its time and its text).
5. The search case table (``bench.search_cases``): plant its customers (once), run every
   case through ``customers.search.search`` ``--requests`` times, and report its p50 and
   whether the first page meets the case.
6. Baseline, in the same run: the raw SQL of a 25-row newest-first page of customers on the
   DB-API cursor (what a list page needs at least), p50 over the same number of runs.

One JSON line per page (``page``, ``user``, ``status``, ``p50_ms``, ``p95_ms``,
``target_ms``, ``meets_target``, ``queries``, ``slowest_sql_ms``, ``slowest_sql``), and one
per search case (``case``, ``query``, ``expect``, ``passed``, ``p50_ms``, ``hits``).
"""

from __future__ import annotations

import http.client
import os
import socket
import subprocess
import sys
import time
from contextlib import suppress
from dataclasses import dataclass
from importlib import import_module
from typing import Any
from urllib.parse import quote

from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db import connection
from django.db.models import Count, Q
from django.test import Client
from django.test.utils import CaptureQueriesContext

from highseas.accounts.models import Role, User
from highseas.accounts.tokens import issue_token
from highseas.accounts.visibility import Viewer
from highseas.bench import BenchError, has_customers, report
from highseas.bench.search_cases import CASES, plant, verdict
from highseas.bench.timing import Timings
from highseas.customers.models import Customer
from highseas.customers.search import search
from highseas.demo.generator import DemoError, DemoOptions, generate_demo
from highseas.pools.listing import listable_pools

WARM_UP = 2
PAGE_TARGET_MS = 300.0
DASHBOARD_TARGET_MS = 500.0
BACKEND = "django.contrib.auth.backends.ModelBackend"


@dataclass(frozen=True)
class PagesBenchOptions:
    customers: int = 1_000_000
    requests: int = 20
    force: bool = False
    only: tuple[str, ...] = ()  # path fragments; empty: every page

    def pages(self) -> tuple[Page, ...]:
        if not self.only:
            return PAGES
        return tuple(page for page in PAGES if any(part in page.path for part in self.only))


@dataclass(frozen=True)
class Page:
    user: str  # rep, manager or admin
    path: str
    api: bool = False

    @property
    def target_ms(self) -> float:
        return DASHBOARD_TARGET_MS if self.path == "/console/" else PAGE_TARGET_MS


PAGES = (
    Page("rep", "/"),
    Page("rep", "/pool/"),
    Page("rep", "/pool/?q=科技"),
    Page("rep", "/pool/?q=huawei"),
    Page("rep", "/pool/?province=浙江"),
    Page("rep", "/mine/"),
    Page("rep", "/mine/?view=due"),
    Page("rep", "/mine/?q=科技"),
    Page("rep", "/search/?q=科技"),
    Page("rep", "/api/v1/customers/", api=True),
    Page("rep", "/api/v1/search/?q=科技", api=True),
    Page("rep", "/api/v1/search/?q=杭州", api=True),
    Page("rep", "/api/v1/search/?q=hw", api=True),
    Page("manager", "/console/"),
    Page("manager", "/console/customers/"),
    Page("manager", "/console/customers/?due=7"),
    Page("manager", "/console/customers/?q=科技"),
    Page("manager", "/console/sweep/"),
    Page("manager", "/api/v1/customers/?status=owned", api=True),
    Page("manager", "/api/v1/reps/?q=chen", api=True),
    Page("admin", "/console/"),
    Page("admin", "/console/customers/"),
    Page("admin", "/api/v1/customers/", api=True),
    Page("admin", "/api/v1/reps/?q=陈", api=True),
)


# --- 1–2: the organization and its people -----------------------------------------------


def ensure_demo(options: PagesBenchOptions) -> tuple[int, float]:
    """The customers on file, and the seconds a build took (0 when reused); a fresh data
    directory's empty database is migrated first."""
    if not has_customers():
        call_command("migrate", interactive=False, verbosity=0)
    on_file = Customer.objects.count()
    if on_file and not User.objects.filter(username="rep01").exists() and not options.force:
        raise BenchError("the database holds customers but no demo: use a scratch database")
    if on_file:
        return on_file, 0.0
    started = time.perf_counter()
    try:
        generate_demo(DemoOptions(customers=options.customers, progress=True))
    except DemoError as error:  # no administrator yet: said as the command's error
        raise BenchError(str(error)) from error
    return Customer.objects.count(), time.perf_counter() - started


def people() -> dict[str, User]:
    reps = User.objects.filter(role=Role.REP, is_active=True)
    rep = reps.annotate(held=Count("customers")).order_by("-held", "pk").first()
    manager = User.objects.filter(role=Role.MANAGER, is_active=True, team__isnull=False).first()
    admin = User.objects.filter(Q(role=Role.ADMIN) | Q(is_superuser=True), is_active=True).first()
    if rep is None or manager is None or admin is None:
        raise BenchError("the demo needs a rep, a manager and an admin")
    return {"rep": rep, "manager": manager, "admin": admin}


def session_cookie(user: User) -> str:
    """A signed-in session, stored as the sign-in view stores it."""
    store = import_module(settings.SESSION_ENGINE).SessionStore()
    store[SESSION_KEY] = str(user.pk)
    store[BACKEND_SESSION_KEY] = BACKEND
    store[HASH_SESSION_KEY] = user.get_session_auth_hash()
    store.save()
    return f"{settings.SESSION_COOKIE_NAME}={store.session_key}"


def credentials(users: dict[str, User]) -> dict[str, dict[str, str]]:
    """Request headers per user: the session cookie (pages) and the token (API)."""
    found = {}
    for role, user in users.items():
        _token, secret = issue_token(user, device="bench pages", audited=False)
        found[role] = {"Cookie": session_cookie(user), "Authorization": f"Token {secret}"}
    return found


# --- 3: over HTTP ---------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Server:
    def __init__(self, port: int) -> None:
        self.port = port
        command = [sys.executable, "-m", "highseas.config.cli", "serve", "--port", str(port)]
        self.process = subprocess.Popen(
            [*command, "--no-scheduler"],
            env={**os.environ, "DJANGO_SETTINGS_MODULE": "highseas.config.settings"},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )

    def wait_ready(self, seconds: float = 120.0) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise BenchError("the server exited before answering")
            with suppress(OSError, http.client.HTTPException):
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                conn.request("GET", "/login/")
                conn.getresponse().read()
                conn.close()
                return
            time.sleep(0.3)
        raise BenchError(f"the server did not answer on port {self.port}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def _quoted(path: str) -> str:
    return quote(path, safe="/?=&")


def time_page(port: int, page: Page, headers: dict[str, str], requests: int) -> dict[str, Any]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    wanted = (
        {"Authorization": headers["Authorization"]} if page.api else {"Cookie": headers["Cookie"]}
    )
    timings, status = Timings(page.path), 0
    try:
        for number in range(WARM_UP + requests):
            started = time.perf_counter()
            conn.request("GET", _quoted(page.path), headers=wanted)
            response = conn.getresponse()
            response.read()
            if number >= WARM_UP:
                timings.latencies.append(time.perf_counter() - started)
            status = response.status
    finally:
        conn.close()
    return {
        "status": status,
        "p50_ms": round(timings.percentile_ms(50), 1),
        "p95_ms": round(timings.percentile_ms(95), 1),
        "max_ms": round(max(timings.latencies) * 1000, 1),
    }


# --- 4–5: in process ----------------------------------------------------------------------


def slowest_sql(page: Page, user: User, secret_headers: dict[str, str]) -> dict[str, Any]:
    client = Client(HTTP_HOST="127.0.0.1", raise_request_exception=False)  # a 500 is a figure
    if page.api:
        client.defaults["HTTP_AUTHORIZATION"] = secret_headers["Authorization"]
    else:
        client.force_login(user, backend=BACKEND)
    with CaptureQueriesContext(connection) as captured:
        answer = client.get(page.path)
    queries = captured.captured_queries
    slowest = max(queries, key=lambda query: float(query["time"]), default=None)
    return {
        "in_process_status": answer.status_code,
        "queries": len(queries),
        "sql_ms": round(sum(float(query["time"]) for query in queries) * 1000, 1),
        "slowest_sql_ms": round(float(slowest["time"]) * 1000, 1) if slowest else 0.0,
        "slowest_sql": (slowest["sql"][:400] if slowest else ""),
    }


def planted_ids(users: dict[str, User]) -> dict[str, int]:
    """The case table's customers, planted in the rep's first pool (kept from earlier runs)."""
    pool = listable_pools(Viewer(users["rep"])).first()
    if pool is None:
        raise BenchError("the rep has no pool to plant the search cases in")
    return plant(users["admin"], pool)


def search_case_lines(users: dict[str, User], runs: int) -> list[dict[str, Any]]:
    planted = planted_ids(users)
    lines = []
    for case in CASES:
        timings = Timings(case.query)
        for _ in range(WARM_UP + runs):
            started = time.perf_counter()
            rows = search(case.query).rows
            timings.latencies.append(time.perf_counter() - started)
        ids, names = [row["id"] for row in rows], [row["name"] for row in rows]
        lines.append(
            {
                "case": case.kind,
                "query": case.query,
                "expect": case.expect,
                "passed": verdict(case, names, planted.get(case.key), ids),
                "p50_ms": round(Timings("", timings.latencies[WARM_UP:]).percentile_ms(50), 1),
                "p95_ms": round(Timings("", timings.latencies[WARM_UP:]).percentile_ms(95), 1),
                "hits": len(ids),
            }
        )
    return lines


def raw_page_ms(runs: int) -> float:
    connection.ensure_connection()
    cursor: Any = connection.connection.cursor()
    timings = Timings("raw")
    sql = (
        f"SELECT id, name, status, owner_id, pool_id, recycle_due_at FROM "
        f"{Customer._meta.db_table} ORDER BY id DESC LIMIT 25"
    )
    for _ in range(WARM_UP + runs):
        started = time.perf_counter()
        cursor.execute(sql)
        cursor.fetchall()
        timings.latencies.append(time.perf_counter() - started)
    cursor.close()
    return round(Timings("raw", timings.latencies[WARM_UP:]).percentile_ms(50), 3)


def run(options: PagesBenchOptions) -> list[dict[str, Any]]:
    customers, build_seconds = ensure_demo(options)
    users = people()
    cases = search_case_lines(users, options.requests)
    headers = credentials(users)
    port = free_port()
    server = Server(port)
    over_http: dict[Page, dict[str, Any]] = {}
    try:
        server.wait_ready()
        for page in options.pages():
            over_http[page] = time_page(port, page, headers[page.user], options.requests)
            print(f"  {page.user:<8} {page.path:<40} {over_http[page]}", file=sys.stderr)
    finally:
        server.stop()
    baseline = raw_page_ms(options.requests)
    common = {"bench": "pages", "db": connection.vendor, "customers": customers}
    lines: list[dict[str, Any]] = [
        {**common, "path": "dataset", "build_seconds": round(build_seconds, 1)}
    ]
    for page in options.pages():
        timed = over_http[page]
        lines.append(
            {
                **common,
                "page": page.path,
                "user": page.user,
                **timed,
                "target_ms": page.target_ms,
                "meets_target": timed["status"] == 200 and timed["p95_ms"] < page.target_ms,
                **slowest_sql(page, users[page.user], headers[page.user]),
                "baseline": "raw_newest_25_customers",
                "baseline_p50_ms": baseline,
            }
        )
    return lines + [{**common, **case} for case in cases]


def summary(lines: list[dict[str, Any]]) -> str:
    pages = [line for line in lines if "page" in line]
    text = [f"pages bench on {pages[0]['db']}: {pages[0]['customers']:,} customers"]
    text += [
        f"  {line['user']:<8} {line['page']:<40} {line['status']}  p50 {line['p50_ms']:8.1f} ms"
        f"  p95 {line['p95_ms']:8.1f} ms  {'ok ' if line['meets_target'] else 'OVER'}"
        f"  {line['queries']:>3} queries, slowest {line['slowest_sql_ms']:.1f} ms"
        for line in pages
    ]
    text.append(f"baseline: raw 25 newest customers p50 {pages[0]['baseline_p50_ms']} ms")
    text += [
        f"  search {line['case']:<36} {line['query']:<26} {line['expect']:<8} "
        f"{'passed' if line['passed'] else 'FAILED'}  p50 {line['p50_ms']:6.1f} ms"
        f"  p95 {line['p95_ms']:6.1f} ms  {line['hits']} hits"
        for line in lines
        if "case" in line
    ]
    return "\n".join(text)


def run_from_command(command: BaseCommand, options: dict[str, Any]) -> None:
    bench_options = PagesBenchOptions(
        customers=options["customers"],
        requests=options["requests"],
        force=options["force"],
        only=tuple(part for part in options.get("only", "").split(",") if part),
    )
    report(command, lambda: run(bench_options), summary)
