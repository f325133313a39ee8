"""``highseas bench http``: claims over HTTP from N concurrent clients (SPEC §12), beside the
same claims through the service layer and as raw SQL, with the same clients, in the same run.

1. Prepare the claim bench's dataset (``dataset.prepare``) and an API token for each rep.
2. Optionally make ``due`` owned customers due for recycling (claimed through the service a
   month ago), so that the scheduler's sweep has real work while the clients claim.
3. Start the server itself: the embedded one (``highseas serve``: waitress and the in-process
   scheduler every ``interval`` seconds), or with ``production`` the scale-out one
   (``highseas serve --production --workers N``) beside a ``highseas worker``.
4. Offer every target customer to ``contention`` clients at once (the 9:00 rush: everyone
   grabs the same fresh customers): each client posts ``/customers/{id}/claim/`` with its
   rep's token on a kept-alive connection and records the latency and the answer.
5. Stop the server; run the same offer pattern with the same number of threads through
   ``ownership.claim`` in this process (``service``) and as raw compare-and-set UPDATE +
   ledger INSERT transactions (``raw_update_and_ledger``, undone afterwards).
6. With ``rates`` (``--rate R …``), after the closed loop and against the same server, an open
   loop per rate: ``R`` customers a second are offered (each to ``contention`` clients at once),
   every request at its planned start, whether or not earlier answers have come back; latency
   is counted from the planned start, so a request that waits for a free client or a busy
   server shows that wait (no coordinated omission). Each rate has its own target customers.
7. Verify: every target was claimed exactly once (one 200 and ``contention - 1`` refusals
   ``already_owned``), the database names the answered rep as its owner and its ledger holds
   exactly one ``claimed`` row for the run; any other answer is an error. ``double_claims``
   must be 0.

The server's CPU time (its processes and their children, from ``/proc``) over the closed loop,
divided by the claims and by the requests, is printed beside the figure; and the closed loop's
Little's-law reading: with one request in flight per client, the mean latency is the clients
divided by the requests answered per second, so only more requests per CPU-second lower it.
"""

from __future__ import annotations

import http.client
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, BinaryIO

from django.core.management.base import BaseCommand
from django.db import connection
from django.db.models import Count
from django.utils import timezone

from highseas.accounts.models import User
from highseas.accounts.tokens import issue_token
from highseas.bench import BenchError, report
from highseas.bench.baselines import RawClaims
from highseas.bench.claim import pooled_sample
from highseas.bench.dataset import Dataset, prepare
from highseas.config.production import READY
from highseas.customers.models import Customer
from highseas.engine.errors import ErrorCode, HighSeasError
from highseas.engine.ownership import EventKind
from highseas.pools import ownership
from highseas.pools.models import OwnershipEvent

STALL_MS = 200
TARGET_P99_MS = {"embedded": 100.0, "production": 50.0}


@dataclass(frozen=True)
class HttpBenchOptions:
    customers: int = 200_000
    claims: int = 3_000
    clients: int = 32
    reps: int = 100
    contention: int = 2
    production: bool = False
    workers: int = 4
    threads: int | None = None
    due: int = 0
    interval: float = 2.0
    seed: int = 1
    force: bool = False
    rates: tuple[float, ...] = ()  # open-loop runs: customers offered per second, in total


@dataclass
class Answers:
    """What one path's clients got: latencies, and per customer the reps answered 200."""

    path: str
    latencies: list[float] = field(default_factory=list)
    won: dict[int, list[int]] = field(default_factory=dict)
    refused: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    elapsed: float = 0.0

    def percentile_ms(self, percent: float) -> float:
        ordered = sorted(self.latencies)
        if not ordered:
            return 0.0
        rank = min(len(ordered) - 1, max(0, round(percent / 100 * len(ordered)) - 1))
        return ordered[rank] * 1000

    def figure(self) -> dict[str, Any]:
        claims = sum(len(reps) for reps in self.won.values())
        return {
            "path": self.path,
            "requests": len(self.latencies),
            "claims": claims,
            "refused": self.refused,
            "errors": sum(self.errors.values()),
            "error_kinds": dict(self.errors),
            "claims_per_second": round(claims / self.elapsed, 1) if self.elapsed else 0.0,
            "requests_per_second": round(len(self.latencies) / self.elapsed, 1)
            if self.elapsed
            else 0.0,
            "p50_ms": round(self.percentile_ms(50), 2),
            "p95_ms": round(self.percentile_ms(95), 2),
            "p99_ms": round(self.percentile_ms(99), 2),
            "max_ms": round(max(self.latencies, default=0.0) * 1000, 2),
            "mean_ms": round(1000 * sum(self.latencies) / len(self.latencies), 2)
            if self.latencies
            else 0.0,
            f"over_{STALL_MS}ms": sum(1 for s in self.latencies if s * 1000 > STALL_MS),
            "double_answers": sum(1 for reps in self.won.values() if len(reps) > 1),
        }


# One attempt: "won", "refused" (already owned), or an error kind.
ClaimOne = Callable[[int, User, int], str]


def offers(customer_ids: Sequence[int], contention: int) -> list[int]:
    """Each customer ``contention`` times in a row, so that that many clients take it at once."""
    return [customer_id for customer_id in customer_ids for _ in range(contention)]


def run_clients(
    answers: Answers,
    clients: int,
    reps: Sequence[User],
    offered: Sequence[int],
    claim_one: ClaimOne,
    on_exit: Callable[[], None] | None = None,
) -> None:
    """``clients`` threads take the offered ids in turn from one shared cursor (client ``i``
    acts as rep ``i``); each records its latency and answer."""
    _drive(answers, clients, reps, offered, claim_one, on_exit, plan=None, lags=None)


@dataclass
class OpenLoop(Answers):
    """An open loop's answers, with what was offered and how late each request was sent."""

    offered_per_second: float = 0.0
    send_lags: list[float] = field(default_factory=list)

    def figure(self) -> dict[str, Any]:
        lags = sorted(self.send_lags)
        late = lags[min(len(lags) - 1, round(0.99 * len(lags)))] if lags else 0.0
        return {
            **super().figure(),
            "offered_claims_per_second": self.offered_per_second,
            "send_lag_p99_ms": round(late * 1000, 2),
        }


def run_open_loop(
    answers: OpenLoop,
    senders: int,
    reps: Sequence[User],
    offered: Sequence[int],
    claim_one: ClaimOne,
    contention: int,
    on_exit: Callable[[], None] | None = None,
) -> None:
    """Offer ``answers.offered_per_second`` customers a second: request ``i`` (customer
    ``i // contention``) is planned at ``i // contention / rate`` seconds after the start.
    ``senders`` threads take the requests in planned order, wait for a request's planned start
    if they are early, and send it; its latency runs from the planned start, not from the send,
    so a request that waited for a free sender behind a slow server counts that wait. Sender
    ``i`` acts as rep ``i``."""
    rate = answers.offered_per_second
    _drive(
        answers,
        senders,
        reps,
        offered,
        claim_one,
        on_exit,
        plan=lambda at: (at // contention) / rate,
        lags=answers.send_lags,
    )


def _drive(
    answers: Answers,
    count: int,
    reps: Sequence[User],
    offered: Sequence[int],
    claim_one: ClaimOne,
    on_exit: Callable[[], None] | None,
    *,
    plan: Callable[[int], float] | None,
    lags: list[float] | None,
) -> None:
    """``count`` threads take the offered requests in turn from one shared cursor (thread
    ``i`` acts as rep ``i``). Closed loop (no ``plan``): each request is sent at once and timed
    from its send. Open loop: request ``at`` is sent no earlier than ``plan(at)`` seconds after
    the start and timed from then; how late it was sent goes to ``lags``."""
    lock = threading.Lock()
    position = iter(range(len(offered)))
    start = threading.Barrier(count + 1)
    began = 0.0

    def client(index: int) -> None:
        rep = reps[index % len(reps)]
        start.wait()
        try:
            while True:
                with lock:
                    at = next(position, None)
                if at is None:
                    return
                sent = timed_from = time.perf_counter()
                if plan is not None:
                    timed_from = began + plan(at)
                    if (early := timed_from - sent) > 0:
                        time.sleep(early)
                    sent = time.perf_counter()
                outcome = claim_one(index, rep, offered[at])
                took = time.perf_counter() - timed_from
                with lock:
                    if lags is not None:
                        lags.append(sent - timed_from)
                    _record(answers, offered[at], rep, outcome, took)
        finally:
            if on_exit is not None:
                on_exit()

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(count)]
    for thread in threads:
        thread.start()
    # an open loop's first plan leaves every thread time to pass the barrier
    began = time.perf_counter() + (0.05 if plan is not None else 0.0)
    start.wait()
    for thread in threads:
        thread.join()
    answers.elapsed = time.perf_counter() - began


def _record(answers: Answers, customer_id: int, rep: User, outcome: str, took: float) -> None:
    answers.latencies.append(took)
    if outcome == "won":
        answers.won.setdefault(customer_id, []).append(rep.pk)
    elif outcome == "refused":
        answers.refused += 1
    else:
        answers.errors[outcome] += 1


class HttpClaims:
    """One kept-alive connection per client, each with its rep's API token, on a plain socket.

    The clients share the 2 cores with the server, so what they spend is taken from it: each
    request is its client's bytes made once (method, path, headers and the ``{}`` body, only
    the customer's id put in), sent in one write, and the answer is read by its status line and
    ``Content-Length``. ``http.client`` built a header dict per request and parsed every answer's
    headers into a message object. What is sent, and what is timed (from before the write to
    the answer's last byte), are as before."""

    def __init__(self, port: int, tokens: dict[int, str], clients: int) -> None:
        self.port = port
        self.tokens = tokens
        self.connections: list[tuple[socket.socket, BinaryIO] | None] = [None] * clients
        self.requests: dict[int, tuple[bytes, bytes]] = {}

    def _request(self, rep_id: int) -> tuple[bytes, bytes]:
        """The bytes before and after the customer's id in ``rep_id``'s claim."""
        found = self.requests.get(rep_id)
        if found is None:
            head = b"POST /api/v1/customers/"
            tail = (
                "/claim/ HTTP/1.1\r\n"
                f"Host: 127.0.0.1:{self.port}\r\n"
                f"Authorization: Token {self.tokens[rep_id]}\r\n"
                "Content-Type: application/json\r\n"
                "Content-Length: 2\r\n"
                "\r\n{}"
            ).encode("ascii")
            found = self.requests[rep_id] = (head, tail)
        return found

    def _connection(self, index: int) -> tuple[socket.socket, BinaryIO]:
        found = self.connections[index]
        if found is None:
            sock = socket.create_connection(("127.0.0.1", self.port), timeout=60)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            found = self.connections[index] = (sock, sock.makefile("rb"))
        return found

    def _drop(self, index: int) -> None:
        found, self.connections[index] = self.connections[index], None
        if found is not None:
            with suppress(OSError):
                found[1].close()
                found[0].close()

    def claim(self, index: int, rep: User, customer_id: int) -> str:
        head, tail = self._request(rep.pk)
        try:
            sock, reader = self._connection(index)
            sock.sendall(b"%b%d%b" % (head, customer_id, tail))
            status, body, kept = read_answer(reader)
        except (OSError, ValueError) as error:
            self._drop(index)
            return f"connection: {type(error).__name__}"
        if not kept:
            self._drop(index)
        if status == 200:
            owner = json.loads(body).get("owner")
            owner_id = owner.get("id") if isinstance(owner, dict) else owner
            return "won" if owner_id == rep.pk else f"200 naming owner {owner_id}"
        code = json.loads(body).get("code") if body.startswith(b"{") else None
        if status == 409 and code == ErrorCode.ALREADY_OWNED.value:
            return "refused"
        return f"{status} {code}"


def read_answer(reader: BinaryIO) -> tuple[int, bytes, bool]:
    """One HTTP/1.x answer from ``reader``: its status, its body (by ``Content-Length``, else
    up to the end of the connection) and whether the connection stays open after it."""
    line = reader.readline(65_537)
    if not line.startswith(b"HTTP/1.") or len(line) < 12:
        raise ConnectionError(f"not an HTTP answer: {line[:40]!r}")
    status = int(line[9:12])
    kept = line.startswith(b"HTTP/1.1")
    length: int | None = None
    while (header := reader.readline(65_537)) not in (b"\r\n", b"\n", b""):
        name, _, value = header.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"connection":
            kept = value.strip().lower() == b"keep-alive"
        elif name == b"transfer-encoding":
            raise ValueError("a chunked answer (every HighSeas answer has a length)")
    if length is None:
        return status, reader.read(), False
    body = reader.read(length)
    if len(body) < length:
        raise ConnectionError("the answer ended early")
    return status, body, kept


def service_claim(index: int, rep: User, customer_id: int) -> str:
    try:
        outcome = ownership.claim(rep, customer_id)
    except HighSeasError as refusal:
        return "refused" if refusal.code == ErrorCode.ALREADY_OWNED else refusal.code.value
    return "won" if outcome.customer.owner_id == rep.pk else "request"


class RawPerThread:
    """``RawClaims`` on each thread's own connection; undone by ``restore_all``."""

    def __init__(self, pool_id: int) -> None:
        self.pool_id = pool_id
        self.local = threading.local()
        self.claimed: list[int] = []
        self.lock = threading.Lock()

    def claim(self, index: int, rep: User, customer_id: int) -> str:
        raw = getattr(self.local, "raw", None)
        if raw is None:
            raw = self.local.raw = RawClaims(self.pool_id)
        try:
            raw.update_and_ledger(rep, customer_id)
        except BenchError:
            return "refused"
        except Exception as error:  # a driver error (busy, serialization) is an answer too
            return f"driver: {type(error).__name__}"
        with self.lock:
            self.claimed.append(customer_id)
        return "won"

    def finish_thread(self) -> None:
        raw = getattr(self.local, "raw", None)
        if raw is not None:
            raw.close()
        connection.close()

    def restore_all(self) -> None:
        undo = RawClaims(self.pool_id)
        undo.claimed = list(self.claimed)
        try:
            undo.restore()
        finally:
            undo.close()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def server_commands(options: HttpBenchOptions, port: int) -> list[list[str]]:
    """The processes to start: the server, and in production a ``highseas worker`` too."""
    cli = [sys.executable, "-m", "highseas.config.cli"]
    if not options.production:
        threads = ["--threads", str(options.threads)] if options.threads else []
        return [[*cli, "serve", "--port", str(port), "--interval", str(options.interval), *threads]]
    per_process = str(options.threads or 4)
    web = [*cli, "serve", "--production", "--port", str(port)]
    web += ["--workers", str(options.workers), "--threads", per_process]
    return [web, [*cli, "worker", "--interval", str(options.interval)]]


class Server:
    """The server processes, started and stopped by this bench. ``workers``: how many web
    workers must say they are ready (``production.READY``, in the web server's log) before
    the server counts as started; the first to answer is not enough, since connections that
    the others would take wait for them to start meanwhile."""

    def __init__(self, commands: list[list[str]], port: int, *, workers: int = 0) -> None:
        self.port = port
        self.workers = workers
        self.log = tempfile.TemporaryFile()  # noqa: SIM115 (closed by stop)
        env = {**os.environ, "DJANGO_SETTINGS_MODULE": "highseas.config.settings"}
        self.processes = [
            subprocess.Popen(
                command,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=self.log if index == 0 else subprocess.DEVNULL,  # the web server's
                start_new_session=True,
            )
            for index, command in enumerate(commands)
        ]

    def ready_workers(self) -> int:
        """How many web workers have said they are ready so far."""
        self.log.seek(0)
        said = READY.split("%s", 1)[0].encode()
        return sum(said in line for line in self.log.read().splitlines())

    def wait_ready(self, seconds: float = 60.0) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if any(process.poll() is not None for process in self.processes):
                raise BenchError("the server exited before answering")
            with suppress(OSError, http.client.HTTPException):
                if self.ready_workers() >= self.workers:
                    conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                    conn.request("GET", "/api/v1/me/")
                    conn.getresponse().read()
                    conn.close()
                    return
            time.sleep(0.2)
        raise BenchError(f"the server did not answer on port {self.port} in {seconds:.0f} s")

    def cpu_seconds(self) -> float | None:
        """CPU time used so far by the server's processes and their children (gunicorn's
        workers); None where ``/proc`` is not there to read."""
        return processes_cpu_seconds([process.pid for process in self.processes])

    def snapshot(self) -> CpuSnapshot:
        """The CPU times so far of the web server (with its workers), of the ``highseas
        worker`` beside it (production), and of the whole machine."""
        web, *beside = [process.pid for process in self.processes]
        return CpuSnapshot(
            processes_cpu([web]), processes_cpu(beside) if beside else None, machine_jiffies()
        )

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.log.close()


@dataclass(frozen=True)
class CpuTimes:
    """CPU seconds in user and kernel mode, and context switches (voluntary: waited for I/O or a
    lock; involuntary: preempted), summed over some processes."""

    user: float = 0.0
    system: float = 0.0
    waits: int = 0
    preempted: int = 0

    def __add__(self, other: CpuTimes) -> CpuTimes:
        return CpuTimes(
            self.user + other.user,
            self.system + other.system,
            self.waits + other.waits,
            self.preempted + other.preempted,
        )

    def __sub__(self, other: CpuTimes) -> CpuTimes:
        return CpuTimes(
            self.user - other.user,
            self.system - other.system,
            self.waits - other.waits,
            self.preempted - other.preempted,
        )


def _switches(pid: int) -> tuple[int, int]:
    counts = {"voluntary_ctxt_switches": 0, "nonvoluntary_ctxt_switches": 0}
    with suppress(OSError, ValueError), open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            name, _, value = line.partition(":")
            if name in counts:
                counts[name] = int(value)
    return counts["voluntary_ctxt_switches"], counts["nonvoluntary_ctxt_switches"]


def processes_cpu(roots: Sequence[int]) -> CpuTimes | None:
    """The CPU times of ``roots`` and every live descendant, read from ``/proc/<pid>/stat`` and
    ``status`` (Linux); None elsewhere."""
    stats: dict[int, tuple[int, float, float]] = {}  # pid: (parent, user, system seconds)
    ticks = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    try:
        entries = os.listdir("/proc")
    except OSError:
        return None
    for entry in entries:
        if not entry.isdigit():
            continue
        with suppress(OSError, IndexError, ValueError):
            with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as stat:
                fields = stat.read().rpartition(")")[2].split()
            parent, user, system = int(fields[1]), int(fields[11]), int(fields[12])
            stats[int(entry)] = (parent, user / ticks, system / ticks)
    wanted = {pid for pid in roots if pid in stats}
    if not wanted:
        return None
    grew = True
    while grew:
        children = {pid for pid, (parent, *_) in stats.items() if parent in wanted} - wanted
        wanted |= children
        grew = bool(children)
    total = CpuTimes()
    for pid in wanted:
        total += CpuTimes(stats[pid][1], stats[pid][2], *_switches(pid))
    return total


def processes_cpu_seconds(roots: Sequence[int]) -> float | None:
    """User and system CPU seconds of ``roots`` and every live descendant; None without
    ``/proc``."""
    times = processes_cpu(roots)
    return None if times is None else times.user + times.system


def machine_jiffies() -> tuple[int, int, int] | None:
    """The whole machine's CPU time so far from ``/proc/stat``: (busy, stolen by the
    hypervisor, all), in ticks summed over the cores; None without ``/proc``."""
    try:
        with open("/proc/stat", encoding="ascii") as stat:
            values = [int(v) for v in stat.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    # user nice system idle iowait irq softirq steal (guest time is inside user and nice)
    idle, steal = values[3] + values[4], values[7] if len(values) > 7 else 0
    everything = sum(values[:8])
    return everything - idle - steal, steal, everything


def make_due(
    dataset: Dataset, count: int, rng: random.Random, now: datetime, targets: Sequence[int] = ()
) -> list[int]:
    """``count`` customers claimed through the service 30 days ago, past the bench pool's idle
    limit, so that the next sweep recycles them (customers an earlier run recycled are still in
    their reps' cooldown and are passed over). The clients' ``targets`` are left alone: a
    target made due would be owned when its clients claim it, and both would be refused."""
    if not count:
        return []
    past = now - timedelta(days=30)
    kept = set(targets)
    due: list[int] = []
    sample = pooled_sample(dataset.pool.pk, 2 * count + len(kept), rng)
    for position, customer_id in enumerate(c for c in sample if c not in kept):
        rep = dataset.reps[position % len(dataset.reps)]
        try:
            ownership.claim(rep, customer_id, reason="bench: due for the sweep", now=past)
        except HighSeasError:
            continue
        due.append(customer_id)
        if len(due) == count:
            return due
    raise BenchError(f"could make only {len(due)} of {count} customers due")


def tokens_for(reps: Sequence[User]) -> dict[int, str]:
    return {
        rep.pk: issue_token(rep, device="highseas bench http", audited=False)[1] for rep in reps
    }


def verify(answers: Answers, targets: Sequence[int], since: datetime) -> dict[str, Any]:
    """Each target claimed once, by the rep that was answered 200, with one ledger row."""
    owners = dict(Customer.objects.filter(pk__in=targets).values_list("pk", "owner_id"))
    rows = dict(
        OwnershipEvent.objects.filter(
            customer_id__in=targets, kind=EventKind.CLAIMED.value, at__gte=since
        )
        .values("customer_id")
        .annotate(n=Count("id"))
        .values_list("customer_id", "n")
    )
    doubles = [c for c in targets if rows.get(c, 0) > 1 or len(answers.won.get(c, [])) > 1]
    wrong_owner = [
        c for c, reps in answers.won.items() if len(reps) == 1 and owners.get(c) != reps[0]
    ]
    unanswered = [c for c in targets if c not in answers.won]
    return {
        "double_claims": len(doubles),
        "owner_mismatches": len(wrong_owner),
        "ledger_rows": sum(rows.values()),
        "targets_unclaimed": len(unanswered),
    }


def _sampled(dataset: Dataset, options: HttpBenchOptions, rng: random.Random) -> list[list[int]]:
    """Target customers: the closed loop's, the service's, the raw path's, then one set per
    open-loop rate."""
    n = options.claims
    ids = pooled_sample(dataset.pool.pk, (3 + len(options.rates)) * n, rng)
    return [ids[at : at + n] for at in range(0, len(ids), n)]


@dataclass(frozen=True)
class CpuSnapshot:
    web: CpuTimes | None
    worker: CpuTimes | None  # the ``highseas worker`` beside a production server
    machine: tuple[int, int, int] | None  # machine_jiffies()


def server_cpu(before: CpuSnapshot, after: CpuSnapshot, answers: Answers) -> dict[str, Any]:
    """The server's CPU milliseconds per claim won and per request answered (the web server's
    and the ``highseas worker``'s together, as before), then split: the web server's user and
    kernel time and context switches per request, the worker's CPU per request, and the
    machine's busy cores and share of time stolen by the hypervisor over the same span."""
    if before.web is None or after.web is None or not answers.latencies:
        return {"server_cpu_ms_per_claim": None, "server_cpu_ms_per_request": None}
    requests = len(answers.latencies)
    web = after.web - before.web
    worker = (
        after.worker - before.worker
        if after.worker is not None and before.worker is not None
        else CpuTimes()
    )
    used = (web.user + web.system + worker.user + worker.system) * 1000
    claims = sum(len(reps) for reps in answers.won.values())
    split: dict[str, Any] = {
        "web_user_ms_per_request": round(1000 * web.user / requests, 3),
        "web_system_ms_per_request": round(1000 * web.system / requests, 3),
        "web_waits_per_request": round(web.waits / requests, 2),
        "web_preemptions_per_request": round(web.preempted / requests, 2),
        "worker_cpu_ms_per_request": round(1000 * (worker.user + worker.system) / requests, 3),
    }
    if before.machine is not None and after.machine is not None and answers.elapsed > 0:
        pairs = zip(after.machine, before.machine, strict=True)
        busy, stolen, everything = (a - b for a, b in pairs)
        ticks = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
        split["machine_busy_cores"] = round(busy / ticks / answers.elapsed, 2)
        split["machine_steal_share"] = round(stolen / everything, 4) if everything else 0.0
    return {
        "server_cpu_ms_per_claim": round(used / claims, 2) if claims else None,
        "server_cpu_ms_per_request": round(used / requests, 2),
        **split,
    }


def _http_paths(
    dataset: Dataset,
    options: HttpBenchOptions,
    targets: list[int],
    open_targets: list[list[int]],
    clients: int,
) -> list[tuple[Answers, dict[str, Any]]]:
    """The closed loop, then an open loop per rate, against one server."""
    tokens = tokens_for(dataset.reps[:clients])
    port = free_port()
    workers = options.workers if options.production else 0
    server = Server(server_commands(options, port), port, workers=workers)
    answers = Answers("http")
    measured: list[tuple[Answers, dict[str, Any]]] = []
    try:
        server.wait_ready()
        runner = HttpClaims(port, tokens, clients)
        since, cpu, own = timezone.now(), server.snapshot(), time.process_time()
        run_clients(
            answers, clients, dataset.reps, offers(targets, options.contention), runner.claim
        )
        used = server_cpu(cpu, server.snapshot(), answers)
        # The clients share the machine with the server: their CPU is what the server lacked.
        used["client_cpu_ms_per_request"] = round(
            1000 * (time.process_time() - own) / max(1, len(answers.latencies)), 2
        )
        measured.append((answers, {**verify(answers, targets, since), **used}))
        for rate, chosen in zip(options.rates, open_targets, strict=True):
            opened = OpenLoop(f"http_open_loop_{rate:g}", offered_per_second=rate)
            since, cpu = timezone.now(), server.snapshot()
            run_open_loop(
                opened,
                clients,
                dataset.reps,
                offers(chosen, options.contention),
                runner.claim,
                options.contention,
            )
            used = server_cpu(cpu, server.snapshot(), opened)
            measured.append((opened, {**verify(opened, chosen, since), **used}))
    finally:
        server.stop()
    connection.close()  # verify's reads, on this thread, while the server was running
    return measured


def measure(options: HttpBenchOptions) -> list[dict[str, Any]]:
    rng = random.Random(options.seed)
    if options.production and connection.vendor != "postgresql":
        raise BenchError("--production runs the scale-out server, which needs PostgreSQL")
    if any(rate <= 0 for rate in options.rates):
        raise BenchError("an open loop's --rate must be above 0 customers a second")
    clients = options.clients
    dataset = prepare(
        customers=options.customers, reps=max(options.reps, clients), force=options.force
    )
    targets = _sampled(dataset, options, rng)
    http_ids, service_ids, raw_ids, *open_ids = targets
    due = make_due(dataset, options.due, rng, timezone.now(), [c for ids in targets for c in ids])
    connection.close()  # the server and the client threads open their own
    (http_answers, http_check), *open_loops = _http_paths(
        dataset, options, http_ids, open_ids, clients
    )
    recycled = Customer.objects.filter(pk__in=due, owner__isnull=True).count()
    service = Answers("service")
    since = timezone.now()
    run_clients(
        service,
        clients,
        dataset.reps,
        offers(service_ids, options.contention),
        service_claim,
        on_exit=lambda: connection.close(),  # each thread closes its own connection
    )
    service_check = verify(service, service_ids, since)
    raw = Answers("raw_update_and_ledger")
    raw_claims = RawPerThread(dataset.pool.pk)
    try:
        run_clients(
            raw,
            clients,
            dataset.reps,
            offers(raw_ids, options.contention),
            raw_claims.claim,
            on_exit=raw_claims.finish_thread,
        )
    finally:
        raw_claims.restore_all()
    server = "production" if options.production else "embedded"
    common = {
        "bench": "http",
        "db": connection.vendor,
        "server": server,
        "clients": clients,
        "contention": options.contention,
        "customers": dataset.customers,
    }
    if options.production:
        common["workers"] = options.workers
    raw_rate = raw.figure()["claims_per_second"]
    baseline = {"baseline": raw.path, "baseline_claims_per_second": raw_rate}
    http_figure = judged({**common, **http_answers.figure(), **http_check, **baseline}, options)
    http_figure |= {
        "due_for_sweep": len(due),
        "recycled_during_run": recycled,
        # Little's law for the closed loop: one request in flight per client.
        "littles_law_mean_ms": round(1000 * clients / http_figure["requests_per_second"], 1)
        if http_figure["requests_per_second"]
        else None,
    }
    return [
        http_figure,
        {**common, **service.figure(), **service_check},
        {**common, **raw.figure()},
        *(
            judged({**common, **answers.figure(), **check, **baseline}, options)
            for answers, check in open_loops
        ),
    ]


def judged(figure: dict[str, Any], options: HttpBenchOptions) -> dict[str, Any]:
    """``figure`` with its target and whether it is met: p99 under the server's target, no
    error, no double claim, and on the embedded server no request over ``STALL_MS``."""
    server = figure["server"]
    return figure | {
        "target_p99_ms": TARGET_P99_MS[server],
        "meets_target": figure["p99_ms"] < TARGET_P99_MS[server]
        and figure["errors"] == 0
        and figure["double_claims"] == 0
        and (options.production or figure[f"over_{STALL_MS}ms"] == 0),
    }


def _line(line: dict[str, Any]) -> str:
    return (
        f"  {line['path']:<22} {line['claims_per_second']:>8,.0f} claims/s  "
        f"p50 {line['p50_ms']:.1f} ms  p95 {line['p95_ms']:.1f} ms  p99 {line['p99_ms']:.1f} ms  "
        f"max {line['max_ms']:.0f} ms  >{STALL_MS} ms: {line[f'over_{STALL_MS}ms']}  "
        f"errors {line['errors']}"
    )


def _target(line: dict[str, Any]) -> str:
    stall = "" if line["server"] == "production" else f", no stall > {STALL_MS} ms"
    verdict = "met" if line["meets_target"] else "missed"
    return f"target p99 < {line['target_p99_ms']:.0f} ms{stall}: {verdict}"


def _cpu(line: dict[str, Any]) -> str:
    if line.get("server_cpu_ms_per_claim") is None:
        return "server CPU not read"
    return (
        f"server CPU {line['server_cpu_ms_per_claim']:.2f} ms per claim, "
        f"{line['server_cpu_ms_per_request']:.2f} ms per request"
    )


def _cpu_split(line: dict[str, Any]) -> str:
    """Where the closed loop's server CPU went, and what the machine did meanwhile."""
    if "web_user_ms_per_request" not in line:
        return ""
    machine = (
        f"; the machine: {line['machine_busy_cores']:.2f} cores busy, "
        f"{100 * line['machine_steal_share']:.1f} % stolen"
        if "machine_busy_cores" in line
        else ""
    )
    return (
        f"server CPU per request: web user {line['web_user_ms_per_request']:.2f} ms, "
        f"kernel {line['web_system_ms_per_request']:.2f} ms, "
        f"{line['web_waits_per_request']:.1f} waits and "
        f"{line['web_preemptions_per_request']:.1f} preemptions; "
        f"highseas worker {line['worker_cpu_ms_per_request']:.2f} ms{machine}"
    )


def _open_line(line: dict[str, Any]) -> str:
    return (
        f"  offered {line['offered_claims_per_second']:>6,.0f} claims/s: achieved "
        f"{line['claims_per_second']:,.1f}  p50 {line['p50_ms']:.1f} ms  "
        f"p95 {line['p95_ms']:.1f} ms  p99 {line['p99_ms']:.1f} ms  max {line['max_ms']:.0f} ms  "
        f"errors {line['errors']}  double claims {line['double_claims']}  "
        f"send lag p99 {line['send_lag_p99_ms']:.1f} ms  {_cpu(line)}; {_target(line)}"
    )


def summary(lines: list[dict[str, Any]]) -> str:
    http_line, service_line = lines[0], lines[1]
    closed, open_loops = lines[:3], lines[3:]
    workers = f", {http_line['workers']} workers" if "workers" in http_line else ""
    shown = [
        f"http claim bench, {http_line['server']} server on {http_line['db']}{workers}: "
        f"{http_line['clients']} clients, each customer offered to "
        f"{http_line['contention']} at once, {http_line['customers']:,} customers; "
        f"{http_line['due_for_sweep']} due for the sweep, "
        f"{http_line['recycled_during_run']} recycled during the run",
        *(_line(line) for line in closed),
        f"double claims: http {http_line['double_claims']}, "
        f"service {service_line['double_claims']}; {_target(http_line)}",
        f"closed loop, Little's law: {http_line['clients']} clients / "
        f"{http_line['requests_per_second']:,.1f} requests/s = "
        f"{http_line['littles_law_mean_ms']} ms mean latency (measured "
        f"{http_line['mean_ms']:.1f} ms); {_cpu(http_line)}; the clients' CPU "
        f"{http_line.get('client_cpu_ms_per_request', 0.0):.2f} ms per request",
    ]
    if split := _cpu_split(http_line):
        shown.append(split)
    if open_loops:
        shown.append(
            f"open loop, {http_line['clients']} senders, every request sent at its planned "
            "start and timed from it:"
        )
        shown += [_open_line(line) for line in open_loops]
    return "\n".join(shown)


def run_from_command(command: BaseCommand, options: dict[str, Any]) -> None:
    chosen = HttpBenchOptions(
        customers=options["customers"],
        claims=options["claims"],
        clients=options["clients"],
        reps=options["reps"],
        contention=options["contention"],
        production=options["production"],
        workers=options["workers"],
        threads=options["threads"],
        due=options["due"],
        interval=options["interval"],
        seed=options["seed"],
        force=options["force"],
        rates=tuple(options.get("rate") or ()),
    )
    report(command, lambda: measure(chosen), summary)
