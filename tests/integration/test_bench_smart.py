"""``highseas bench smart`` on a small world: its three figures, each with its target, and a
summary on stderr. It needs no database."""

from __future__ import annotations

import io
import json
import math

from django.core.management import call_command


def test_the_smart_bench_reports_training_the_batch_and_one_decision() -> None:
    out, err = io.StringIO(), io.StringIO()
    args = ("--deals", "3000", "--backlog", "3000", "--reps", "20")
    call_command("bench", "smart", *args, stdout=out, stderr=err)
    lines = {line["path"]: line for line in map(json.loads, out.getvalue().splitlines())}
    assert set(lines) == {"train", "batch_smart", "single_decision"}
    assert lines["train"]["deals"] == 3000 and 0.5 < lines["train"]["auc"] <= 1
    batch = lines["batch_smart"]
    assert batch["customers"] == batch["assigned"] == 3000 and batch["reps"] == 20
    assert batch["most_above_even"] <= math.ceil(1.25 * 3000 / 20) / (3000 / 20) - 1 + 1e-3
    assert lines["single_decision"]["decisions"] == 1000
    assert "one decision" in err.getvalue()
