from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from highseas.smart.models import WinModelVersion
from highseas.smart.services import train_model


def describe(version: WinModelVersion) -> str:
    if version.fallback:
        return (
            f"win model v{version.version}: no model ({version.fallback}) — {version.deals} "
            f"decided deals; smart rules use the performance strategy"
        )
    m = version.metrics
    return (
        f"win model v{version.version}: {version.deals:,} decided deals ({version.won:,} won), "
        f"trained in {version.seconds:.1f} s; time-based holdout of {m.get('holdout')} deals: "
        f"AUC {m.get('auc')} (the reps' win rates alone: {m.get('baseline_auc')}), "
        f"Brier {m.get('brier')}, calibration error {m.get('calibration_error')}"
    )


class Command(BaseCommand):
    help = (
        "Train a new version of the win model on every deal decided so far (smart assignment); "
        "it becomes current at once. The scheduler retrains daily."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", action="store_true", help="print the version as JSON")

    def handle(self, *args: Any, **options: Any) -> None:
        version = train_model(None)
        if options["json"]:
            body = {
                "version": version.version,
                "trained_on": version.deals,
                "auc": version.auc,
                "brier": version.brier,
                "fallback": version.fallback or None,
                "metrics": version.metrics,
            }
            self.stdout.write(json.dumps(body, ensure_ascii=False))
            return
        self.stdout.write(describe(version))
