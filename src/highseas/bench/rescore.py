"""``highseas bench rescore``: the scheduled re-evaluation of customer value at scale.

1. Reuse the customers in the database (``highseas demo --customers …`` first); at least
   ``--changes`` of them must be unlocked, unmerged and score to a level other than A.
2. Before each measured path every customer is set to level A by one raw UPDATE, so the
   same customers change (to the level their score gives) on every path.
3. Paths, timed on the same changes:
   - ``raw_update``: the baseline, the levels written by a raw ``UPDATE … SET level = %s
     WHERE id = %s AND level = 'A'`` per customer (``executemany``), one transaction;
   - ``scheduled_rescore``: ``insights.value.scheduled_rescore`` (score every customer,
     compare-and-set each batch set-based with its schedules, audit and ``LevelChange``
     rows), and its scoring alone (``scored_changes``);
   - ``per_change``: a sample of ``--sample`` changes applied one by one, each in its own
     transaction (the shape of the re-evaluation before it was set-based).

One JSON line per path (``changes``, ``seconds``, ``ms_per_change``, ``ratio_to_raw``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from django.core.management.base import BaseCommand
from django.db import connection, transaction
from django.utils import timezone

from highseas.bench import BenchError, Lines, report, require_demo
from highseas.customers.models import Customer
from highseas.insights import value


@dataclass(frozen=True)
class RescoreBenchOptions:
    changes: int = 20_000
    sample: int = 2_000


def _all_to_a() -> None:
    with transaction.atomic(), connection.cursor() as cursor:
        table = connection.ops.quote_name(Customer._meta.db_table)
        cursor.execute(f"UPDATE {table} SET level = 'A' WHERE merged_into_id IS NULL")


def _changes(now: Any) -> list[dict[str, Any]]:
    scoring = value.value_settings()
    customers = Customer.objects.filter(merged_into__isnull=True)
    return list(value.scored_changes(customers, now, scoring))


def _raw(changes: list[dict[str, Any]]) -> float:
    table = connection.ops.quote_name(Customer._meta.db_table)
    rows = [(change["to"], change["customer"]) for change in changes]
    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.executemany(f"UPDATE {table} SET level = %s WHERE id = %s AND level = 'A'", rows)
    return time.perf_counter() - started


def _line(path: str, changes: int, seconds: float, raw: float | None) -> dict[str, Any]:
    per_change = seconds / changes if changes else 0.0
    line: dict[str, Any] = {
        "path": path,
        "database": connection.vendor,
        "changes": changes,
        "seconds": round(seconds, 3),
        "ms_per_change": round(per_change * 1000, 4),
    }
    if raw:
        line["ratio_to_raw"] = round(per_change / raw, 2)
    return line


def measure(options: RescoreBenchOptions) -> Lines:
    require_demo(options.changes)
    now = timezone.now()
    _all_to_a()
    changes = _changes(now)
    if len(changes) < options.changes:
        raise BenchError(
            f"only {len(changes)} customers would change level; load a larger demo first "
            f"(highseas demo --customers …) or ask for fewer --changes"
        )
    raw_seconds = _raw(changes)
    raw_per_change = raw_seconds / len(changes)
    lines = [_line("raw_update", len(changes), raw_seconds, None)]

    _all_to_a()
    started = time.perf_counter()
    scored = _changes(now)
    lines.append(_line("scoring_only", len(scored), time.perf_counter() - started, None))

    started = time.perf_counter()
    done = value.scheduled_rescore(now, force=True)["rescored"]
    seconds = time.perf_counter() - started
    if done != len(changes):
        raise BenchError(f"the rescore changed {done} customers, {len(changes)} expected")
    lines.append(_line("scheduled_rescore", done, seconds, raw_per_change))

    _all_to_a()
    sample = _changes(now)[: options.sample]
    started = time.perf_counter()
    for change in sample:
        with transaction.atomic():
            value._apply_batch([change], now)
    lines.append(_line("per_change", len(sample), time.perf_counter() - started, raw_per_change))
    return lines


def summary(lines: Lines) -> str:
    out = ["rescore: ms per changed customer (ratio to the raw UPDATE of the same run)"]
    for line in lines:
        ratio = f"  ×{line['ratio_to_raw']}" if "ratio_to_raw" in line else ""
        out.append(
            f"  {line['path']:<18} {line['changes']:>8} changes  {line['seconds']:>9.3f} s  "
            f"{line['ms_per_change']:>8.4f} ms/change{ratio}"
        )
    return "\n".join(out) + "\n"


def run_from_command(command: BaseCommand, options: dict[str, Any]) -> None:
    chosen = RescoreBenchOptions(changes=options["changes"], sample=options["sample"])
    report(command, lambda: measure(chosen), summary)
