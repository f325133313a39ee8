from __future__ import annotations

import threading
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection

from highseas.config import heap
from highseas.config.private_files import make_data_private


class Command(BaseCommand):
    help = (
        "Serve the web UI and the API, with the sweep scheduler, from one process; or, with "
        "--production, from several gunicorn worker processes on PostgreSQL (run `highseas "
        "worker` beside them for sweeps, reminders and notification delivery)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument(
            "--threads", type=int, default=None, help="threads per process (8; 4 in production)"
        )
        parser.add_argument(
            "--production",
            action="store_true",
            help="gunicorn with --workers processes, no scheduler (PostgreSQL only)",
        )
        parser.add_argument(
            "--workers", type=int, default=4, help="with --production: web worker processes"
        )
        parser.add_argument(
            "--no-scheduler",
            action="store_true",
            help="do not run sweeps and reminders in this process",
        )
        parser.add_argument(
            "--interval", type=float, default=60.0, help="seconds between scheduled sweeps"
        )

    def handle(
        self,
        *args: Any,
        host: str,
        port: int,
        threads: int | None,
        no_scheduler: bool,
        interval: float,
        production: bool,
        workers: int,
        **options: Any,
    ) -> None:
        if production:
            self._serve_production(host, port, workers, threads or 4)
            return
        from highseas.config.embedded import serve
        from highseas.config.sqlite.checkpoints import start_checkpoints
        from highseas.config.wsgi import application
        from highseas.pools.scheduler import start_in_background

        for path in make_data_private():
            self.stdout.write(f"private: {path}")
        if not no_scheduler:
            start_in_background(interval)
            self.stdout.write(
                f"scheduler: sweeps and reminders every {interval:.0f}s; digests, insights "
                "and retraining on a thread of their own"
            )

        stop_checkpoints = threading.Event()
        start_checkpoints(stop_checkpoints)
        self.stdout.write(f"HighSeas is serving at http://{host}:{port}/  (Ctrl+C to stop)")
        heap.settle()
        try:
            serve(application, host=host, port=port, threads=threads or 8, ident="HighSeas")
        finally:
            stop_checkpoints.set()

    def _serve_production(self, host: str, port: int, workers: int, threads: int) -> None:
        from highseas.config.production import ServerOptions, serve_production

        if connection.vendor != "postgresql":
            raise CommandError(
                "--production serves from several processes and needs PostgreSQL "
                "(DATABASE_URL=postgresql://…); the embedded server is `highseas serve`"
            )
        if workers < 1 or threads < 1:
            raise CommandError("--workers and --threads must be at least 1")
        for path in make_data_private():
            self.stdout.write(f"private: {path}")
        self.stdout.write(
            f"HighSeas (production) is serving at http://{host}:{port}/ with {workers} "
            f"processes × {threads} threads; run `highseas worker` for the periodic jobs"
        )
        self.stdout.flush()
        serve_production(ServerOptions(host, port, workers, threads))
