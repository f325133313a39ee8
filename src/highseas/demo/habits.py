"""The reps' working habits, so the insights console has something real to show (SPEC §9,
fairness): most reps take their share and follow their customers up; a few do not.

- **Appetite** (``APPETITE``): a rep picked that many times as often as a colleague when a
  customer changes hands. From ``GRABBING`` up, the rep grabs: claims every customer they
  take (within the quota). Their
  colleagues, beaten to the new leads, claim less (``CROWDED_OUT`` of their usual share) and
  work what the manager assigns. So the rep takes an outsized share of the team's claims,
  many of which bounce back to the pool. A current owner is picked so only while the rep
  has room under the holding cap, so the status mix stays where the stories put it.
- **Hoarding** (``HOARDING``): the share of a rep's current customers they hold on to
  without following them up. Only where the pool's policy lets them keep it: a won customer
  (exempt from recycling), or one with an open deal where the pool exempts those
  (``exempt_open_deal``): the rep opens the deal at the first contact, then lets it rest.

Habits are keyed by the named reps' usernames (``roster._BASE_REPS``), so every demo size has
them; every other rep is an ordinary one.
"""

from __future__ import annotations

import random

from highseas.demo.sampling import Weighted, chance
from highseas.demo.world import PoolWorld, Rep

# 陈静 (华东) claims whatever comes in, eight times her share; 郝建国 takes twice his.
APPETITE = {"rep05": 8.0, "rep28": 2.0}
GRABBING = 4.0
# 郝建国 and 唐睿 (大客户部) park key accounts behind an open deal (唐睿 every one he can);
# 宋涛 (华北) never calls back a customer once it has signed.
HOARDING = {"rep28": 0.9, "rep30": 1.0, "rep23": 0.9}
CROWDED_OUT = 0.3

_pickers: dict[int, tuple[list[Rep], Weighted[Rep], bool]] = {}


def appetite(rep: Rep) -> float:
    return APPETITE.get(rep.actor.label, 1.0)


def hoarding(rep: Rep) -> float:
    """The chance the rep lets one of their current customers rest without follow-ups."""
    return HOARDING.get(rep.actor.label, 0.0)


def _known(pool: PoolWorld) -> tuple[list[Rep], Weighted[Rep], bool]:
    """The pool's reps weighted by appetite, and whether one of them grabs; built once per
    pool (kept while the same reps list is in use)."""
    known = _pickers.get(pool.id)
    if known is None or known[0] is not pool.reps:
        weights = [appetite(rep) for rep in pool.reps]
        known = (pool.reps, Weighted(pool.reps, weights), max(weights) >= GRABBING)
        _pickers[pool.id] = known
    return known


def picker(pool: PoolWorld) -> Weighted[Rep]:
    return _known(pool)[1]


def claims(rng: random.Random, pool: PoolWorld, rep: Rep, usual: float) -> bool:
    """Whether the rep claims a customer they take (else their manager assigns it): always
    for a grabbing rep, ``usual`` for the others, less beside a grabbing colleague."""
    if appetite(rep) >= GRABBING:
        return True
    return chance(rng, usual * CROWDED_OUT if _known(pool)[2] else usual)
