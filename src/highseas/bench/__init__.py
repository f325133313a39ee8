"""Benchmarks behind ``highseas bench`` (SPEC §12).

Each benchmark builds (or reuses) its own dataset in the configured database, measures a path
through the service layer, and measures the raw-SQL baseline for the same work in the same run,
so that every figure comes with the yardstick it is judged against.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

from django.core.management.base import BaseCommand, CommandError

T = TypeVar("T")


class BenchError(Exception):
    """A benchmark cannot run as asked (foreign data, too small a dataset, a refused claim)."""


def has_customers() -> bool:
    """Whether the database has the customers' table yet (a fresh data directory's has no
    tables): read before a benchmark looks at, migrates or refuses a database."""
    from django.db import connection

    from highseas.customers.models import Customer

    return Customer._meta.db_table in connection.introspection.table_names()


def require_demo(customers: int = 1_000_000) -> None:
    """For a benchmark that measures the demo organization: a database without it (a fresh
    data directory has no tables yet) is the user's to fill first, said as such."""
    from highseas.customers.models import Customer

    if not has_customers() or not Customer.objects.exists():
        raise BenchError(f"no customers: run `highseas demo --customers {customers}` first")


def chunked(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    """Consecutive slices of at most ``size`` items."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


Lines = list[dict[str, Any]]


def report(
    command: BaseCommand, measure: Callable[[], Lines], summary: Callable[[Lines], str]
) -> None:
    """What every ``highseas bench …`` does with its figures: one JSON line each on stdout, the
    human summary on stderr; a benchmark that cannot run is the command's error."""
    try:
        lines = measure()
    except BenchError as error:
        raise CommandError(str(error)) from error
    for line in lines:
        command.stdout.write(json.dumps(line, ensure_ascii=False))
    command.stderr.write(summary(lines))
