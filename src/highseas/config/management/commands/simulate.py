from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from highseas.accounts.visibility import viewer_for
from highseas.config.management.commands.assign import _actor
from highseas.config.management.commands.sweep import parse_moment
from highseas.engine.errors import HighSeasError
from highseas.engine.targets import DEFAULT_FAIRNESS
from highseas.smart.models import Simulation
from highseas.smart.simulate import SIMULATED, simulate


def table(found: Simulation) -> str:
    results = found.results
    lines = [
        f"simulation #{found.pk}: {results['customers']} customers arrived "
        f"{found.since:%Y-%m-%d} – {found.until:%Y-%m-%d}, scored by the {results['scored_by']} "
        f"trained on {found.model_deals:,} deals decided before the period"
        + (f" ({found.fallback})" if found.fallback else ""),
        f"  {'strategy':<14}{'expected wins':>14}{'Gini':>8}{'recycled':>10}{'assigned':>10}",
    ]
    for name, figures in results["strategies"].items():
        lines.append(
            f"  {name:<14}{figures['expected_wins']:>14.1f}{figures['gini_workload']:>8.3f}"
            f"{figures['recycled']:>10}{figures['assigned']:>10}"
        )
    return "\n".join(lines)


class Command(BaseCommand):
    help = (
        "Replay the customers that arrived in a past period under several strategies, scored "
        "by a model trained only on deals decided before it; compare expected wins, workload "
        "Gini and recycles."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--since", type=parse_moment, required=True)
        parser.add_argument("--until", type=parse_moment, required=True)
        parser.add_argument(
            "--strategies",
            default="actual,round_robin,performance,smart",
            help=f"comma-separated, of {', '.join(SIMULATED)}",
        )
        parser.add_argument("--team", type=int, default=None)
        parser.add_argument("--fairness", type=float, default=DEFAULT_FAIRNESS)
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--as", dest="username", default=None, help="the manager or admin")
        parser.add_argument("--json", action="store_true")

    def handle(
        self, *args: Any, since: datetime, until: datetime, strategies: str, **options: Any
    ) -> None:
        viewer = viewer_for(_actor(options["username"]))
        try:
            found = simulate(
                viewer,
                since=since,
                until=until,
                strategies=[s.strip() for s in strategies.split(",") if s.strip()],
                team_id=options["team"],
                fairness=options["fairness"],
                seed=options["seed"],
            )
        except HighSeasError as refusal:
            raise CommandError(f"{refusal.code.value}: {refusal.detail}") from refusal
        if options["json"]:
            self.stdout.write(json.dumps({"id": found.pk, **found.results}, ensure_ascii=False))
            return
        self.stdout.write(table(found))
