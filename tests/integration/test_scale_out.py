"""The scale-out deployment (SPEC §11) as the README runs it: ``highseas serve --production``
with two gunicorn web processes and two ``highseas worker`` processes on one PostgreSQL
database, both running both lanes or one worker per lane. Reps claim over HTTP from many
threads while the workers sweep due customers back to the pool (where the reps claim them
too) and send the notifications' webhooks from the outbox.

Afterwards: no answer was a 5xx; no customer was claimed twice (one ``claimed`` ledger row per
successful answer, and its owner is the rep it answered); ``highseas check`` passes; every
queued delivery reached the receiver exactly once."""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import suppress
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from highseas.accounts import services as accounts
from highseas.accounts.models import Role, User
from highseas.customers.models import Customer
from highseas.notify.models import Delivery
from highseas.pools.models import OwnershipEvent, Pool, RecyclePolicy

# solo: timed, or several processes that want both cores; run alone (scripts/test)
pytestmark = [pytest.mark.solo, pytest.mark.django_db(transaction=True), pytest.mark.postgres_only]

REPS, POOLED, DUE, CLIENTS = 8, 40, 24, 8


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def database_url() -> str:
    db = connection.settings_dict
    credentials = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgresql://{credentials}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


@pytest.fixture
def receiver() -> Iterator[tuple[str, list[str]]]:
    """A webhook receiver recording each request's idempotency key."""
    keys: list[str] = []
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            with lock:
                keys.append(self.headers["Idempotency-Key"])
            self.send_response(204)
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook", keys
    finally:
        server.shutdown()
        server.server_close()


def start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    command = [str(Path(sys.executable).with_name("highseas")), *args]
    with log.open("wb") as out:
        return subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)


def wait_until_serving(url: str, server: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert server.poll() is None, log.read_text()
        try:
            urllib.request.urlopen(url, timeout=2).close()
            return
        except urllib.error.HTTPError:
            return  # it answers
        except OSError:
            time.sleep(0.2)
    raise AssertionError("the production server did not start:\n" + log.read_text())


def claim(base: str, token: str, customer_id: int) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(
        f"{base}/api/v1/customers/{customer_id}/claim/",
        data=b"{}",
        headers={"Authorization": f"Token {token}", "Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as answer:
        body = answer.read()
        return answer.code, json.loads(body) if body.startswith(b"{") else {"raw": str(body)}


def stop(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    for process in processes:
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@pytest.mark.parametrize(
    "lanes", [("all", "all"), ("ownership", "slow")], ids=["both-lanes", "a-worker-per-lane"]
)
def test_two_web_and_two_worker_processes_claim_sweep_and_deliver_each_once(
    lanes: tuple[str, str],
    org: dict[str, Any],
    make_user: Callable[..., User],
    make_customer: Callable[..., Customer],
    receiver: tuple[str, list[str]],
    tmp_path: Path,
) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("several processes on one database need PostgreSQL")
    hook, received = receiver
    RecyclePolicy.objects.filter(pool=org["east_pool"]).update(idle_days=7)
    pool = Pool.objects.get(pk=org["east_pool"].pk)
    reps = [make_user(Role.REP, f"scale{i:02d}", team=org["east"]) for i in range(REPS)]
    month_ago = timezone.now() - timedelta(days=30)
    due = [
        make_customer(org["admin"], owner=reps[i % REPS], pool=pool, now=month_ago).pk
        for i in range(DUE)
    ]
    pooled = [make_customer(org["admin"], pool=pool).pk for _ in range(POOLED)]
    tokens = {rep.pk: accounts.issue_token(rep, audited=False)[1] for rep in reps}
    connection.close()

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "DATABASE_URL": database_url(), "HIGHSEAS_WEBHOOK_URL": hook}
    web_log = tmp_path / "web.log"
    web = start(
        ["serve", "--production", "--workers", "2", "--threads", "4", "--port", str(port)],
        env,
        web_log,
    )
    processes = [web]
    try:
        wait_until_serving(f"{base}/api/v1/me/", web, web_log)
        worker_logs = [tmp_path / f"worker{i}.log" for i in range(2)]
        for log, lane in zip(worker_logs, lanes, strict=True):
            worker_args = ["worker", "--lane", lane, "--interval", "1", "--delivery-interval"]
            processes.append(start([*worker_args, "0.5", "--batch-size", "7"], env, log))

        answers: list[tuple[int, int, int, dict[str, Any]]] = []
        lock = threading.Lock()
        swept = threading.Event()

        def client(index: int) -> None:
            """Claim the pooled and the due customers in turn until the workers have swept
            the due ones back, then race for those once more."""
            rep = reps[index % REPS]
            targets = pooled + due
            random.Random(index).shuffle(targets)
            rounds = 0
            while not swept.is_set() or rounds < 2:
                rounds = rounds + 1 if swept.is_set() else 0
                for customer_id in targets[: 20 + 5 * rounds] if rounds < 2 else due:
                    status, body = claim(base, tokens[rep.pk], customer_id)
                    with lock:
                        answers.append((customer_id, rep.pk, status, body))

        clients = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
        for thread in clients:
            thread.start()
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not swept.is_set():
            if OwnershipEvent.objects.filter(kind="recycled").count() == DUE:
                swept.set()
            time.sleep(0.2)
        swept.set()
        for thread in clients:
            thread.join(timeout=120)
        while time.monotonic() < deadline and (
            Delivery.objects.filter(state=Delivery.State.PENDING).exists()
        ):
            time.sleep(0.2)
    finally:
        stop(processes)
    logs = "\n".join(path.read_text() for path in tmp_path.glob("*.log"))
    assert "Traceback" not in logs, logs

    statuses = Counter(status for _c, _r, status, _b in answers)
    print("answers by status:", dict(statuses))
    assert not [a for a in answers if a[2] >= 500], logs
    won = [(customer, rep) for customer, rep, status, _body in answers if status == 200]
    claimed = Counter(
        OwnershipEvent.objects.filter(kind="claimed").values_list("customer_id", flat=True)
    )
    assert claimed == Counter(customer for customer, _rep in won), "no customer claimed twice"
    assert max(claimed.values()) == 1
    owners = dict(Customer.objects.filter(pk__in=claimed).values_list("pk", "owner_id"))
    assert owners == dict(won)
    recycled = set(
        OwnershipEvent.objects.filter(kind="recycled").values_list("customer_id", flat=True)
    )
    assert recycled == set(due), logs
    assert recycled & set(claimed), "reps claimed customers the sweep brought back"

    deliveries = Counter(
        f"highseas-delivery-{pk}"
        for pk in Delivery.objects.filter(state=Delivery.State.SENT).values_list("pk", flat=True)
    )
    assert Delivery.objects.exclude(state=Delivery.State.SENT).count() == 0
    assert len(deliveries) >= REPS  # each former owner heard of their recycled customers
    assert Counter(received) == deliveries, "every notification delivered exactly once"

    check = subprocess.run(
        [str(Path(sys.executable).with_name("highseas")), "check"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert check.returncode == 0, check.stdout + check.stderr


def _children(parent: int) -> list[int]:
    """The processes whose parent is ``parent`` (gunicorn's workers of its master)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == parent:
                found.append(int(entry.name))
    return found


def _served_connections(pid: int, port: int) -> int:
    """How many established TCP connections on local ``port`` the process ``pid`` holds."""
    established = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with suppress(OSError), open(table) as rows:
            for row in list(rows)[1:]:
                fields = row.split()
                local_port = int(fields[1].rsplit(":", 1)[1], 16)
                if local_port == port and fields[3] == "01":  # ESTABLISHED
                    established.add(fields[9])  # the socket's inode
    held = 0
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        with suppress(OSError):
            target = os.readlink(fd)
            if target.startswith("socket:[") and target[8:-1] in established:
                held += 1
    return held


def test_keep_alive_connections_spread_over_the_web_workers(tmp_path: Path) -> None:
    """Clients that keep their connections open cannot all sit in the first worker to wake:
    a worker holds at most two connections per thread; an answer beyond what it keeps says
    ``Connection: close``, and the client's next connection goes to whichever worker has room.
    (With gunicorn's default of 1,000, one worker kept all four here, and in the rush bench
    all 32 clients.)"""
    if connection.vendor != "postgresql":
        pytest.skip("the production server needs PostgreSQL")
    connection.close()
    if not Path("/proc/net/tcp").exists():
        pytest.skip("reads the connections from /proc")
    port = free_port()
    env = {**os.environ, "DATABASE_URL": database_url()}
    log = tmp_path / "web.log"
    args = ["serve", "--production", "--workers", "2", "--threads", "1", "--port", str(port)]
    web = start(args, env, log)
    sockets: list[socket.socket] = []
    try:
        wait_until_serving(f"http://127.0.0.1:{port}/api/v1/me/", web, log)
        closed = 0
        for _ in range(4):  # one after the other, each answered
            sock = socket.create_connection(("127.0.0.1", port), timeout=10)
            sockets.append(sock)
            sock.sendall(b"GET /api/v1/me/ HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            head = sock.recv(65536).split(b"\r\n\r\n", 1)[0].lower()
            assert head.startswith(b"http/1.1 ")
            closed += b"connection: close" in head
        time.sleep(0.5)  # the closed ones closed
        workers = _children(web.pid)
        held = [_served_connections(pid, port) for pid in workers]
        assert len(workers) == 2
        # one thread each: two connections at most (gunicorn closes an answer's connection
        # once one is kept, though a connection answered just after another may be kept too)
        assert max(held) <= 2, held
        assert sum(held) + closed == 4, (held, closed)
    finally:
        for sock in sockets:
            sock.close()
        stop([web])
