from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from highseas.smart.evaluate import EvalOptions, evaluate


def summary(report: dict[str, Any]) -> str:
    strategies = report["strategies"]
    lines = [
        f"synthetic world: {report['options']['reps']} reps, {report['history_deals']:,} "
        f"historical deals (model trained in {report['train_seconds']} s, C={report['strength']})",
        f"holdout: AUC {report['holdout']['auc']} (reps' win rates alone "
        f"{report['holdout']['baseline_auc']}), Brier {report['holdout']['brier']}, "
        f"calibration error {report['holdout']['calibration_error']}",
        f"later period vs the truth: AUC {report['later_period']['auc']} (the truth's own "
        f"{report['later_period']['auc_of_truth']}), calibration error "
        f"{report['later_period']['calibration_error']}, mean |model − truth| "
        f"{report['later_period']['mean_gap_to_truth']}",
        "expected wins on the later period (true probabilities):",
    ]
    for name, figures in strategies.items():
        lines.append(
            f"  {name:<12} {figures['expected_wins']:>9.1f}   assigned {figures['assigned']}"
            f"   most above an even split {figures['most_above_even']:.0%}"
        )
    verdict = "met" if report["meets_goal"] else "missed"
    lines.append(
        f"smart gains {report['share_of_oracle_uplift']:.0%} of the oracle's uplift over "
        f"round-robin (goal ≥ {report['goal']:.0%}): {verdict}"
    )
    return "\n".join(lines)


class Command(BaseCommand):
    help = (
        "Evaluate smart assignment on a synthetic world with known truth: expected wins of "
        "smart, round_robin, performance and an oracle on a later period (SPEC §9)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        defaults = EvalOptions()
        for name in (
            "seed",
            "reps",
            "teams",
            "history_days",
            "per_day",
            "days",
            "arrivals",
            "quota",
        ):
            parser.add_argument(
                f"--{name.replace('_', '-')}", type=int, default=getattr(defaults, name)
            )
        parser.add_argument("--fairness", type=float, default=defaults.fairness)
        parser.add_argument("--json", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        fields = EvalOptions.__dataclass_fields__
        report = evaluate(EvalOptions(**{k: v for k, v in options.items() if k in fields}))
        if options["json"]:
            self.stdout.write(json.dumps(report, ensure_ascii=False))
        else:
            self.stdout.write(summary(report))
        if not report["meets_goal"]:
            raise SystemExit(1)
