from __future__ import annotations

import json
import signal
import threading
from datetime import datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from highseas.config.management.commands.sweep import parse_moment
from highseas.engine.errors import HighSeasError
from highseas.pools.moments import require_allowed_moment
from highseas.pools.scheduler import (
    ALL,
    DELIVERY_INTERVAL,
    LANES,
    OWNERSHIP,
    SLOW,
    run_forever,
    run_periodic_jobs,
)


class Command(BaseCommand):
    help = (
        "Run sweeps, claim-request expiry, reminders and the other periodic jobs, and send "
        "e-mail and webhook notifications from the outbox (scale-out: run several on "
        "PostgreSQL; they share the work). Two lanes, each on its own thread: the ownership "
        "lane (sweep, claim-request expiry, reminders, deliveries) never waits for the slow "
        "one (digests, insights, win-model retraining, scheduled handovers), whose jobs run "
        "on one worker at a time. A failed job is logged and the others still run."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--interval", type=float, default=60.0, help="seconds between runs")
        parser.add_argument(
            "--lane",
            choices=(OWNERSHIP, SLOW, ALL),
            default=ALL,
            help="the jobs to run: the ownership lane, the slow lane, or both (default)",
        )
        parser.add_argument(
            "--once",
            action="store_true",
            help="run the jobs once, print their figures and exit (non-zero when a job failed)",
        )
        parser.add_argument(
            "--now",
            type=parse_moment,
            default=None,
            help="with --once: run as of this moment (ISO); needs HIGHSEAS_ALLOW_TIME_TRAVEL=1",
        )
        parser.add_argument(
            "--batch-size", type=int, default=500, help="customers per sweep transaction"
        )
        parser.add_argument(
            "--delivery-interval",
            type=float,
            default=DELIVERY_INTERVAL,
            help="seconds between two drains of the notification outbox",
        )

    def handle(
        self,
        *args: Any,
        interval: float,
        lane: str,
        once: bool,
        now: datetime | None,
        batch_size: int,
        delivery_interval: float,
        **options: Any,
    ) -> None:
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1")
        if now is not None and not once:
            raise CommandError("--now needs --once: a worker that keeps running runs at the time")
        try:
            require_allowed_moment(now, dry_run=False, job="sweep")
        except HighSeasError as refusal:
            raise CommandError(f"{refusal.detail} (HIGHSEAS_ALLOW_TIME_TRAVEL=1)") from refusal
        if once:
            figures = run_periodic_jobs(now, batch_size=batch_size, lane=lane)
            self.stdout.write(json.dumps(figures, default=str))
            if figures["failed"]:
                raise CommandError(f"periodic jobs failed: {', '.join(figures['failed'])}")
            return
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        signal.signal(signal.SIGINT, lambda *_: stop.set())
        lanes = LANES if lane == ALL else (lane,)
        self.stdout.write(
            f"HighSeas worker: {' and '.join(lanes)} jobs every {interval:.0f}s (Ctrl+C to stop)"
        )
        self.stdout.flush()
        run_forever(
            interval, stop, batch_size=batch_size, delivery_interval=delivery_interval, lanes=lanes
        )
