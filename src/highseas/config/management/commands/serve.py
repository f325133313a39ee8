from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from highseas.config.private_files import make_data_private


class Command(BaseCommand):
    help = "Serve the web UI and the API, with the sweep scheduler, from one process."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--threads", type=int, default=8)
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
        threads: int,
        no_scheduler: bool,
        interval: float,
        **options: Any,
    ) -> None:
        from waitress import serve

        from highseas.config.wsgi import application
        from highseas.pools.scheduler import start_in_background

        for path in make_data_private():
            self.stdout.write(f"private: {path}")
        if not no_scheduler:
            start_in_background(interval)
            self.stdout.write(f"scheduler: sweeps and reminders every {interval:.0f}s")

        self.stdout.write(f"HighSeas is serving at http://{host}:{port}/  (Ctrl+C to stop)")
        serve(application, host=host, port=port, threads=threads, ident="HighSeas")
