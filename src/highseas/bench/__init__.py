"""Benchmarks behind ``highseas bench`` (SPEC §12).

Each benchmark builds (or reuses) its own dataset in the configured database, measures a path
through the service layer, and measures the raw-SQL baseline for the same work in the same run,
so that every figure comes with the yardstick it is judged against.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TypeVar

T = TypeVar("T")


class BenchError(Exception):
    """A benchmark cannot run as asked (foreign data, too small a dataset, a refused claim)."""


def chunked(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    """Consecutive slices of at most ``size`` items."""
    for start in range(0, len(items), size):
        yield items[start : start + size]
