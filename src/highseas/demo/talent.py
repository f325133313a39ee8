"""The reps' genuine strengths, so the demo's history has something for the win model to learn
(SPEC §9): each rep is clearly better with two industries, worse with one, and better in about
one province in five, deterministically per rep and with the dice still rolling.

Two places use it: a customer that ends up won goes more often to a rep strong with it, and
an earlier owner loses a deal on the way more often where they are weak. So on the demo's
own deals, P(won | rep, industry, province) really differs by rep — the pattern smart
assignment is meant to find ("a rep who won many finance customers gets new finance
customers first").
"""

from __future__ import annotations

import math
import random
import zlib
from functools import lru_cache

from highseas.demo import data

STRONG_INDUSTRY = 1.4
WEAK_INDUSTRY = -1.0
STRONG_PROVINCE = 0.8
BASE = -0.6


@lru_cache(maxsize=4096)
def _industries(rep_index: int) -> tuple[frozenset[str], str]:
    rng = random.Random(f"talent-{rep_index}")
    names = [industry.name for industry in data.INDUSTRIES]
    strong = rng.sample(names, 2)
    weak = rng.choice([name for name in names if name not in strong])
    return frozenset(strong), weak


def strength(rep_index: int, industry: str, province: str) -> float:
    """How much better than average (on the logit scale) this rep does with this customer."""
    strong, weak = _industries(rep_index)
    value = STRONG_INDUSTRY if industry in strong else WEAK_INDUSTRY if industry == weak else 0.0
    if zlib.crc32(f"{rep_index}:{province}".encode()) % 5 == 0:
        value += STRONG_PROVINCE
    return value


def win_chance(rep_index: int, industry: str, province: str) -> float:
    """The chance this rep wins a deal with such a customer."""
    return 1 / (1 + math.exp(-(BASE + strength(rep_index, industry, province))))
