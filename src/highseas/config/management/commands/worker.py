from __future__ import annotations

import json
import signal
import threading
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from highseas.pools.scheduler import run_forever, run_periodic_jobs


class Command(BaseCommand):
    help = "Run sweeps and reminders periodically (scale-out: run several on PostgreSQL)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--interval", type=float, default=60.0, help="seconds between runs")
        parser.add_argument("--once", action="store_true", help="run the jobs once and exit")

    def handle(self, *args: Any, interval: float, once: bool, **options: Any) -> None:
        if once:
            self.stdout.write(json.dumps(run_periodic_jobs(), default=str))
            return
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        signal.signal(signal.SIGINT, lambda *_: stop.set())
        self.stdout.write(f"HighSeas worker: jobs every {interval:.0f}s (Ctrl+C to stop)")
        run_forever(interval, stop)
