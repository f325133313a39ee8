"""A rep's record with customers like this one — the numbers a manager reads behind a smart
decision ("近 12 个月广东金融客户成交 9/14").

Counts of decided deals over the last ``MONTHS`` months of the training data, by rep and
(province, industry), by rep and industry, by rep and province, and by rep. The most specific
segment with at least ``ENOUGH`` deals is the one shown.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from highseas.smart.features import DIMENSIONS, Example

MONTHS = 12
ENOUGH = 3
INDUSTRY, PROVINCE = DIMENSIONS.index("industry"), DIMENSIONS.index("province")
SEGMENTS = (("province", "industry"), ("industry",), ("province",), ())

Key = tuple[str, ...]


class Record:
    def __init__(self, counts: dict[Key, list[int]] | None = None) -> None:
        self.counts: dict[Key, list[int]] = counts if counts is not None else {}

    @classmethod
    def of(cls, examples: Iterable[Example]) -> Record:
        examples = list(examples)
        if not examples:
            return cls()
        since = max(e.at for e in examples) - timedelta(days=30 * MONTHS)
        counts: dict[Key, list[int]] = defaultdict(lambda: [0, 0])
        for example in examples:
            if example.at < since:
                continue
            for key in _keys(str(example.rep.rep), example.customer):
                counts[key][0] += example.won
                counts[key][1] += 1
        return cls(dict(counts))

    def of_rep(self, rep: int, customer: tuple[str, ...]) -> dict[str, Any] | None:
        """The most specific segment with enough deals, or the rep's whole record."""
        values = {"industry": customer[INDUSTRY], "province": customer[PROVINCE]}
        for segment, key in zip(SEGMENTS, _keys(str(rep), customer), strict=True):
            if segment and not all(values[name] for name in segment):
                continue
            won, decided = self.counts.get(key, (0, 0))
            if decided >= ENOUGH or not segment:
                return {
                    "won": won,
                    "decided": decided,
                    "segment": {name: values[name] for name in segment},
                    "months": MONTHS,
                }
        return None

    def to_json(self) -> list[list[Any]]:
        return [[*key, *counts] for key, counts in sorted(self.counts.items())]

    @classmethod
    def from_json(cls, rows: list[list[Any]]) -> Record:
        return cls({tuple(str(x) for x in row[:-2]): [int(row[-2]), int(row[-1])] for row in rows})


def _keys(rep: str, customer: tuple[str, ...]) -> list[Key]:
    """The record's keys, most specific first, in the order of ``SEGMENTS``."""
    industry, province = customer[INDUSTRY], customer[PROVINCE]
    return [
        (rep, "pi", province, industry),
        (rep, "i", industry),
        (rep, "p", province),
        (rep, "all"),
    ]
