"""Seeded sampling helpers; every draw takes the caller's ``random.Random``."""

from __future__ import annotations

import random
from bisect import bisect
from collections.abc import Sequence
from itertools import accumulate
from typing import Generic, TypeVar

T = TypeVar("T")


class Weighted(Generic[T]):
    """Pick items with relative weights in O(log n), one ``random()`` per pick."""

    def __init__(self, items: Sequence[T], weights: Sequence[float]) -> None:
        if len(items) != len(weights) or not items:
            raise ValueError("one positive weight per item, at least one item")
        self.items = tuple(items)
        self.cumulative = tuple(accumulate(weights))
        self.total = self.cumulative[-1]

    @classmethod
    def of(cls, pairs: Sequence[tuple[T, float]]) -> Weighted[T]:
        return cls([item for item, _ in pairs], [weight for _, weight in pairs])

    def pick(self, rng: random.Random) -> T:
        return self.items[bisect(self.cumulative, rng.random() * self.total)]

    def share(self, item: T) -> float:
        """The probability of ``item``."""
        index = self.items.index(item)
        low = self.cumulative[index - 1] if index else 0.0
        return (self.cumulative[index] - low) / self.total


def one_of(rng: random.Random, items: Sequence[T]) -> T:
    """A uniform pick; like ``rng.choice`` with one ``random()`` call, which is faster."""
    return items[int(rng.random() * len(items))]


def between(rng: random.Random, low: int, high: int) -> int:
    """A uniform integer in ``[low, high]`` (``high`` below ``low`` gives ``low``)."""
    return low + int(rng.random() * (max(high, low) - low + 1))


def chance(rng: random.Random, probability: float) -> bool:
    return rng.random() < probability
