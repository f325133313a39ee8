from __future__ import annotations

import argparse
from datetime import datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db.models.functions import Coalesce
from django.utils import timezone

from highseas.config.management.commands.train import describe
from highseas.customers.models import Deal
from highseas.demo.generator import DemoError, DemoOptions, DemoReport, Laps, generate_demo
from highseas.demo.reset import DemoDataInUse
from highseas.demo.roster import DEMO_PASSWORD
from highseas.insights import snapshots
from highseas.smart.models import WinModelVersion
from highseas.smart.services import train_model


def _positive(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return number


def recent_deals_since(now: datetime, most: int) -> datetime | None:
    """The decision time of the ``most``-th latest deal decided before ``now`` (with an
    owner, as the win model counts them), or None when there are no more than ``most``."""
    decided = (
        Deal.objects.filter(owner__isnull=False)
        .annotate(decided=Coalesce("won_at", "lost_at"))
        .filter(decided__lt=now)
        .order_by("-decided")
        .values_list("decided", flat=True)
    )
    return next(iter(decided[most - 1 : most]), None)


def _moment(value: str) -> datetime:
    """An ISO date or datetime; without a zone it is read in the organization's zone."""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not an ISO date or datetime: {value}") from exc
    return moment if timezone.is_aware(moment) else timezone.make_aware(moment)


# deals: the demo's first win model learns from the most recent decided deals, so that it
# takes well under a minute at any demo size (the full history: `highseas train`)
TRAIN_ON_DEALS = 4_000


class Command(BaseCommand):
    help = (
        "Load a deterministic Chinese demo organization: teams, managers, reps, pools with "
        "policies, and customers with contacts, follow-ups, deals and their ownership history."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--customers", type=_positive, default=5_000, help="how many customers (default 5000)"
        )
        parser.add_argument(
            "--seed",
            type=int,
            default=2026,
            help="random seed; the same seed gives the same data (default 2026)",
        )
        parser.add_argument(
            "--months", type=_positive, default=6, help="how many months of history (default 6)"
        )
        parser.add_argument(
            "--now",
            type=_moment,
            default=None,
            help="the moment histories end, ISO format (default: today 00:00)",
        )
        parser.add_argument("--reset", action="store_true", help="delete earlier demo data first")
        parser.add_argument(
            "--no-progress", dest="progress", action="store_false", help="no progress bar on stderr"
        )

    def handle(
        self,
        *args: Any,
        customers: int,
        seed: int,
        months: int,
        now: datetime | None,
        reset: bool,
        progress: bool,
        **options: Any,
    ) -> None:
        demo_options = DemoOptions(
            customers=customers, seed=seed, months=months, now=now, reset=reset, progress=progress
        )
        laps = Laps()
        try:
            report = generate_demo(demo_options, laps)
        except (DemoError, DemoDataInUse) as exc:
            raise CommandError(str(exc)) from exc
        # the per-rep days of the new history (older windows read the ledger live)
        snapshots.rebuild(timezone.now(), snapshots.DEMO_DAYS)
        laps.lap(f"per-rep days ({snapshots.DEMO_DAYS})")
        self._print_summary(report)
        self._train(report)
        laps.lap("win model")
        self._print_phases(laps)
        self._print_logins(report)

    def _train(self, report: DemoReport) -> None:
        """A first version of the win model, so smart rules and the console's smart
        assignment page work at once: on the demo's ``TRAIN_ON_DEALS`` most recently decided
        deals (all of them in a smaller demo)."""
        since = recent_deals_since(report.now, TRAIN_ON_DEALS)
        version = train_model(
            None, now=report.now, since=since, trigger=WinModelVersion.Trigger.DEMO
        )
        self.stdout.write(f"  win model      {describe(version)}")
        if since is not None:
            self.stdout.write(
                f"                 (the {TRAIN_ON_DEALS:,} latest deals; "
                "`highseas train` learns from all of them)"
            )

    def _print_summary(self, report: DemoReport) -> None:
        tally = report.tally
        if report.deleted_customers:
            self.stdout.write(f"deleted the earlier demo ({report.deleted_customers} customers)")
        statuses = ", ".join(
            f"{status} {tally.statuses[status]}" for status in ("pooled", "owned", "frozen")
        )
        lines = [
            f"demo data as of {timezone.localtime(report.now):%Y-%m-%d %H:%M %Z}",
            f"  teams          {report.teams}",
            f"  users          {report.users}",
            f"  pools          {len(report.pools)} ({'、'.join(report.pools)})",
            f"  customers      {sum(tally.statuses.values())} ({statuses})",
            f"  contacts       {tally.rows['contacts']}",
            f"  activities     {tally.rows['activities']}",
            f"  deals          {tally.rows['deals']}",
            f"  ledger events  {tally.rows['events']}",
        ]
        self.stdout.write("\n".join(lines))

    def _print_phases(self, laps: Laps) -> None:
        """Where the time went, wall-clock: every phase of the command, then the total."""
        for name, seconds in laps.phases:
            self.stdout.write(f"    {seconds:8.1f}s  {name}")
        self.stdout.write(f"  elapsed        {laps.seconds:.1f}s")

    def _print_logins(self, report: DemoReport) -> None:
        self.stdout.write(self.style.SUCCESS(f"\ndemo logins (password for all: {DEMO_PASSWORD})"))
        for login in report.logins:
            note = f"  {login.note}" if login.note else ""
            self.stdout.write(
                f"  {login.username:<15} {login.display_name:<6} {login.role:<8} {login.team}{note}"
            )
        if report.more_reps:
            self.stdout.write(
                f"  … and {report.more_reps} more reps (rep31 onwards), same password"
            )
