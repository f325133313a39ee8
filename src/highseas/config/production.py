"""The scale-out web server (SPEC §11): gunicorn's pre-fork workers in front of PostgreSQL.

Why gunicorn: the SPEC names it; it is pure Python (one wheel, no compiler, installs wherever
the rest does), has run Django for over a decade, and its master process restarts a worker that
dies or hangs, which is what a production server needs most. Each worker is an OS process with
``threads`` threads (``gthread``), so one slow request never blocks the others, and each thread
keeps its own PostgreSQL connection (``CONN_MAX_AGE``). Granian is faster at the HTTP layer,
but a claim spends its time in the database, not in HTTP parsing.

Each worker holds at most ``CONNECTIONS_PER_THREAD`` connections a thread (gunicorn's
``worker_connections``; its default is 1,000). A worker with a free slot accepts whatever is
waiting, so with the default the first worker to wake took every keep-alive connection of a
rush: 32 clients that keep their connections open were all served by one process, one core
(the GIL) for the whole rush, while three workers idled. Capped, a worker takes no more than it
can serve, the next connections go to the others, and beyond the cap an answer closes its
connection instead of keeping it idle (``worker_connections - threads`` stay kept), so a full
worker frees a slot at each answer. Measured with 32 clients and 4 workers × 4 threads on
PostgreSQL: 175 claims/s with one worker busy before, 278 claims/s with all four busy after.

The web workers run no periodic jobs: sweeps, reminders, handovers and notification delivery
belong to the ``highseas worker`` processes started beside them.

gunicorn sends an answer's head and then its body by two ``sendall`` calls; each worker answers
with ``OneWriteResponse`` instead, which sends a one-piece body of exactly its
``Content-Length`` together with the head, in one call (the same bytes; see
``config/embedded.py`` for the embedded server's twin).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from gunicorn import util  # type: ignore[import-untyped]
from gunicorn.app.base import BaseApplication  # type: ignore[import-untyped]
from gunicorn.http import wsgi  # type: ignore[import-untyped]

from highseas.config import heap

CONNECTIONS_PER_THREAD = 2  # connections a worker holds, per thread (see above)


@dataclass(frozen=True)
class ServerOptions:
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 4
    threads: int = 4
    timeout: int = 30

    def gunicorn_settings(self) -> dict[str, Any]:
        return {
            "bind": f"{self.host}:{self.port}",
            "workers": self.workers,
            "worker_class": "gthread",
            "threads": self.threads,
            "worker_connections": CONNECTIONS_PER_THREAD * self.threads,
            "timeout": self.timeout,
            "graceful_timeout": self.timeout,
            "keepalive": 5,
            "backlog": 2048,
            "accesslog": None,
            "errorlog": "-",
            "proc_name": "highseas",
            "post_worker_init": _worker_ready,
        }


class _HeadCapture:
    """A socket stand-in that keeps what ``sendall`` is given."""

    def __init__(self) -> None:
        self.sent = b""

    def sendall(self, data: bytes) -> None:
        self.sent += data


class OneWriteResponse(wsgi.Response):  # type: ignore[misc]
    """gunicorn's response, sending the head together with a body that is the whole answer:
    not chunked, not HEAD, not a status without a body, and exactly ``Content-Length`` bytes.
    The head is gunicorn's own (``send_headers``, written into ``_HeadCapture``)."""

    sock: Any

    def write(self, arg: Any) -> None:
        if not self._is_whole_answer(arg):
            super().write(arg)
            return
        sock = self.sock
        capture = _HeadCapture()
        self.sock = capture
        try:
            self.send_headers()
        finally:
            self.sock = sock
        util.write(sock, capture.sent + arg)
        self.sent += len(arg)

    def _is_whole_answer(self, arg: Any) -> bool:
        return (
            isinstance(arg, bytes)
            and bool(arg)
            and not self.headers_sent
            and not self.chunked
            and not self._omits_body
            and self.req.method != "HEAD"
            and len(arg) == self.response_length
        )


READY = "HighSeas web worker %s is ready"  # logged by each worker once it can serve


def _worker_ready(worker: Any) -> None:
    """Each worker, once it has loaded the application: ``heap.settle`` (start-up finished,
    then the heap frozen), and its answers are ``OneWriteResponse`` (gunicorn's threaded worker
    builds them with ``wsgi.create``, which takes the module's ``Response``). Then it says it
    is ready (``READY``): until every worker has, the first connections of a rush wait for the
    workers still starting."""
    heap.settle()
    wsgi.Response = OneWriteResponse
    worker.log.info(READY, os.getpid())


class ProductionServer(BaseApplication):  # type: ignore[misc]
    """gunicorn running the HighSeas WSGI application with ``options``, configured here rather
    than by a config file or gunicorn's own command line."""

    def __init__(self, options: ServerOptions) -> None:
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.gunicorn_settings().items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        from highseas.config.wsgi import application

        return application


def serve_production(options: ServerOptions) -> None:
    """Run the server until it is stopped (SIGTERM/SIGINT stop it gracefully)."""
    ProductionServer(options).run()
