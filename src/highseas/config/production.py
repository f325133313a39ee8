"""The scale-out web server (SPEC §11): gunicorn's pre-fork workers in front of PostgreSQL.

Why gunicorn: the SPEC names it; it is pure Python (one wheel, no compiler, installs wherever
the rest does), has run Django for over a decade, and its master process restarts a worker that
dies or hangs, which is what a production server needs most. Each worker is an OS process with
``threads`` threads (``gthread``), so one slow request never blocks the others, and each thread
keeps its own PostgreSQL connection (``CONN_MAX_AGE``). Granian is faster at the HTTP layer,
but a claim spends its time in the database, not in HTTP parsing.

The web workers run no periodic jobs: sweeps, reminders, handovers and notification delivery
belong to the ``highseas worker`` processes started beside them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gunicorn.app.base import BaseApplication  # type: ignore[import-untyped]

from highseas.config import heap


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
            "timeout": self.timeout,
            "graceful_timeout": self.timeout,
            "keepalive": 5,
            "backlog": 2048,
            "accesslog": None,
            "errorlog": "-",
            "proc_name": "highseas",
            "post_worker_init": _settle_heap,
        }


def _settle_heap(worker: Any) -> None:
    """Each worker, once it has loaded the application: ``heap.settle``."""
    heap.settle()


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
