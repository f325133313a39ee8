"""``highseas rollup``: roll up the per-rep days (``insights.snapshots``) of the closed days
of a horizon that are not rolled yet, newest first, one transaction a day — an interrupted
run resumes where it stopped. The scheduler rolls each new day by itself."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.utils import timezone

from highseas.insights import snapshots


class Command(BaseCommand):
    help = (
        "Backfill the per-rep daily figures of the insights and the dashboard (resumable: "
        "days already rolled are kept)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--days", type=int, default=snapshots.BACKFILL_DAYS, help="how many days back"
        )
        parser.add_argument(
            "--rebuild", action="store_true", help="forget the rolled days and roll them again"
        )

    def handle(self, *args: Any, days: int, rebuild: bool, **options: Any) -> None:
        def progress(day: date) -> None:
            self.stderr.write(f"rolled {day}")

        run = snapshots.rebuild if rebuild else snapshots.backfill
        figures = run(timezone.now(), days, progress)
        self.stdout.write(json.dumps(figures))
