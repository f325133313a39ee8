"""``bench http``'s open loop: requests leave at their planned starts and are timed from them,
so a slow server's queue shows in the latencies (no coordinated omission); and the server's
CPU is read from its processes and their children."""

from __future__ import annotations

import io
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace
from typing import Any, cast

import pytest
from django.utils import timezone

from highseas.accounts.models import User
from highseas.bench import http as http_bench
from highseas.bench.claim import pooled_sample
from highseas.bench.dataset import prepare
from highseas.customers.models import Customer


class FakeServer(BaseHTTPRequestHandler):
    """Answers a claim for the token's rep after ``seconds``, one request at a time (a server
    with one worker); notes when each request arrived."""

    seconds = 0.0
    one_at_a_time = threading.Lock()
    arrivals: list[tuple[float, int]] = []

    def do_POST(self) -> None:
        arrived = time.perf_counter()
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        customer_id = int(self.path.split("/")[4])
        with self.one_at_a_time:
            self.arrivals.append((arrived, customer_id))
            time.sleep(self.seconds)
        rep = int(self.headers["Authorization"].removeprefix("Token "))
        body = json.dumps({"owner": {"id": rep}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def fake_server() -> Iterator[tuple[int, type[FakeServer]]]:
    handler = type("Handler", (FakeServer,), {"arrivals": [], "one_at_a_time": threading.Lock()})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1], handler
    server.shutdown()
    server.server_close()


def _reps(count: int) -> list[User]:
    return [cast(User, SimpleNamespace(pk=pk)) for pk in range(1, count + 1)]


def _open_loop(port: int, rate: float, customers: int, senders: int) -> http_bench.OpenLoop:
    reps = _reps(senders)
    runner = http_bench.HttpClaims(port, {rep.pk: str(rep.pk) for rep in reps}, senders)
    answers = http_bench.OpenLoop("open", offered_per_second=rate)
    offered = http_bench.offers(list(range(1, customers + 1)), 1)
    http_bench.run_open_loop(answers, senders, reps, offered, runner.claim, contention=1)
    return answers


def test_behind_a_slow_server_latency_runs_from_the_planned_start(
    fake_server: tuple[int, type[FakeServer]],
) -> None:
    """20 requests planned 10 ms apart to a server taking 40 ms each, one at a time: the last
    is answered about 800 ms after the first was planned, 610 ms after its own planned start.
    Timed from the send, no request would show more than 4 × 40 ms (the 4 senders' queue)."""
    port, handler = fake_server
    handler.seconds = 0.04
    figure = _open_loop(port, rate=100, customers=20, senders=4).figure()
    assert figure["requests"] == 20 and figure["errors"] == 0
    assert figure["max_ms"] > 450
    assert figure["p50_ms"] > 200
    assert figure["send_lag_p99_ms"] > 250  # the senders themselves fell behind the plan


def test_requests_leave_at_their_planned_starts_not_before(
    fake_server: tuple[int, type[FakeServer]],
) -> None:
    """A fast server: customer ``k`` never arrives before ``(k - 1) / rate`` seconds after the
    plan's start (the loop paces itself instead of sending as fast as answers come back). Timed
    from the plan's start, not from the first arrival, which opening a connection delays."""
    port, handler = fake_server
    handler.seconds = 0.0
    rate = 50.0
    answers = _open_loop(port, rate=rate, customers=15, senders=4)
    # the plan's origin, on the clock the server notes arrivals with (the same process); taken
    # from the loop's end, so it is a hair later than the true origin (the check only stricter)
    began = time.perf_counter() - answers.elapsed
    figure = answers.figure()
    assert figure["requests"] == 15 and figure["errors"] == 0
    for at, customer_id in handler.arrivals:
        assert at - began >= (customer_id - 1) / rate - 0.002


def test_a_rate_of_zero_is_refused() -> None:
    options = http_bench.HttpBenchOptions(rates=(0.0,))
    with pytest.raises(http_bench.BenchError):
        http_bench.measure(options)


def test_the_server_cpu_counts_its_child_processes() -> None:
    """gunicorn's workers are children of the process the bench started."""
    busy = "import time\nend = time.process_time() + 0.3\nwhile time.process_time() < end: pass"
    worker = f"{busy}\ntime.sleep(30)"
    master = f"import subprocess, sys, time\nsubprocess.Popen([sys.executable, '-c', {worker!r}])"
    parent = subprocess.Popen(
        [sys.executable, "-c", master + "\ntime.sleep(30)"], start_new_session=True
    )
    try:
        before = http_bench.processes_cpu_seconds([parent.pid])
        time.sleep(2.0)  # the worker, a child of the parent, spends 0.3 s of CPU and lives on
        after = http_bench.processes_cpu_seconds([parent.pid])
    finally:
        os.killpg(parent.pid, signal.SIGKILL)
        parent.wait()
    if before is None or after is None:
        pytest.skip("no /proc here")
    assert after - before >= 0.2 or after >= 0.3


def _figure(path: str, **extra: Any) -> dict[str, Any]:
    answers = http_bench.Answers(path, latencies=[0.01, 0.02], won={1: [1]}, elapsed=1.0)
    common = {"server": "embedded", "db": "sqlite", "clients": 2, "contention": 2}
    return {**common, "customers": 10, **answers.figure(), "double_claims": 0, **extra}


def test_the_summary_shows_littles_law_and_each_open_loop_with_its_verdict() -> None:
    options = http_bench.HttpBenchOptions(rates=(50.0,))
    closed = http_bench.judged(_figure("http", server_cpu_ms_per_claim=None), options)
    closed |= {"due_for_sweep": 0, "recycled_during_run": 0, "littles_law_mean_ms": 1000.0}
    closed["client_cpu_ms_per_request"] = 0.75
    opened = _figure("http_open_loop_50", offered_claims_per_second=50.0, send_lag_p99_ms=1.0)
    opened |= {"server_cpu_ms_per_claim": 2.5, "server_cpu_ms_per_request": 1.25}
    shown = http_bench.summary(
        [closed, _figure("service"), _figure("raw"), http_bench.judged(opened, options)]
    )
    assert "Little's law: 2 clients / 2.0 requests/s = 1000.0 ms mean latency" in shown
    assert "the clients' CPU 0.75 ms per request" in shown
    assert "offered     50 claims/s: achieved 1.0" in shown
    assert "server CPU 2.50 ms per claim, 1.25 ms per request" in shown
    assert shown.count("target p99 < 100 ms, no stall > 200 ms: met") == 2


def test_an_answer_is_read_by_its_length_and_its_connection_kept_or_not() -> None:
    """The clients' plain-socket reader: two kept-alive answers in a row are told apart by
    their lengths; HTTP/1.0 and ``Connection: close`` end the connection; a chunked answer is
    an error rather than a misread."""
    stream = io.BytesIO(
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\ncontent-length: 13\r\n\r\n"
        b'{"owner": 12}'
        b"HTTP/1.1 409 Conflict\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}"
    )
    assert http_bench.read_answer(stream) == (200, b'{"owner": 12}', True)
    assert http_bench.read_answer(stream) == (409, b"{}", False)
    old = io.BytesIO(b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\n{}")
    assert http_bench.read_answer(old) == (200, b"{}", False)
    unlengthed = io.BytesIO(b"HTTP/1.0 500 Oops\r\n\r\nbody to the end")
    assert http_bench.read_answer(unlengthed) == (500, b"body to the end", False)
    with pytest.raises(ValueError):
        http_bench.read_answer(io.BytesIO(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"))
    with pytest.raises(ConnectionError):
        http_bench.read_answer(io.BytesIO(b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n{}"))
    with pytest.raises(ConnectionError):
        http_bench.read_answer(io.BytesIO(b""))


def test_the_server_cpu_is_split_into_the_web_servers_user_and_kernel_time_and_the_worker() -> None:
    """The closed loop's server CPU is the web server's and the ``highseas worker``'s together;
    the split says which, user or kernel, with context switches per request, and how busy the
    machine was and how much of it the hypervisor took."""
    cpu = http_bench.CpuTimes
    before = http_bench.CpuSnapshot(cpu(1.0, 0.5, 100, 10), cpu(2.0, 0.1), (1000, 10, 5000))
    after = http_bench.CpuSnapshot(cpu(3.0, 1.0, 900, 50), cpu(2.2, 0.1), (1400, 30, 5400))
    answers = http_bench.Answers("http", latencies=[0.01] * 1000, won={1: [1]}, elapsed=2.0)
    used = http_bench.server_cpu(before, after, answers)
    ticks = os.sysconf("SC_CLK_TCK")
    assert used["server_cpu_ms_per_request"] == 2.7  # (2.0 + 0.5 + 0.2) s / 1,000
    assert used["server_cpu_ms_per_claim"] == 2700.0
    assert used["web_user_ms_per_request"] == 2.0
    assert used["web_system_ms_per_request"] == 0.5
    assert used["web_waits_per_request"] == 0.8
    assert used["web_preemptions_per_request"] == 0.04
    assert used["worker_cpu_ms_per_request"] == 0.2
    assert used["machine_busy_cores"] == round(400 / ticks / 2.0, 2)
    assert used["machine_steal_share"] == 0.05
    closed = http_bench.judged(_figure("http", **used), http_bench.HttpBenchOptions())
    closed |= {"due_for_sweep": 0, "recycled_during_run": 0, "littles_law_mean_ms": 1000.0}
    shown = http_bench.summary([closed, _figure("service"), _figure("raw")])
    assert "web user 2.00 ms, kernel 0.50 ms, 0.8 waits and 0.0 preemptions" in shown
    assert "highseas worker 0.20 ms" in shown and "5.0 % stolen" in shown


def test_the_server_cpu_reads_user_and_kernel_time_of_a_live_process() -> None:
    times = http_bench.processes_cpu([os.getpid()])
    if times is None:
        pytest.skip("no /proc here")
    assert times.user > 0 and times.waits + times.preempted > 0
    assert http_bench.processes_cpu_seconds([os.getpid()]) >= times.user + times.system


@pytest.mark.django_db
def test_the_customers_made_due_for_the_sweep_are_never_the_clients_targets() -> None:
    """A target made due would already be owned when its clients claim it: both refused."""
    dataset = prepare(customers=60, reps=5, force=True)
    rng = random.Random(7)
    targets = pooled_sample(dataset.pool.pk, 40, rng)

    due = http_bench.make_due(dataset, 10, rng, timezone.now(), targets)

    assert len(due) == 10
    assert not set(due) & set(targets)
    assert Customer.objects.filter(pk__in=targets, owner__isnull=False).count() == 0
