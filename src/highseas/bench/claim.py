"""``highseas bench claim``: claims per second through the service layer, beside raw SQL.

1. Prepare the dataset (``dataset.prepare``): N pooled customers in ``bench-pool``, R reps.
2. Draw distinct pooled customers at random over the whole id range (seeded), and split them
   into disjoint sets: one per measured path, and one for the optional profile.
3. Measure the three paths in interleaved blocks, so that a drift of the machine or the
   database (cache warm-up, WAL checkpoints) falls on all of them alike: ``service``
   (``ownership.claim``), ``raw_conditional_update`` and ``raw_update_and_ledger``
   (``baselines``). Reps take turns round-robin on every path.
4. Optionally profile further service claims (``profile``).
5. Undo the raw baselines' claims, whatever happened, so the database stays consistent.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from django.db import connection
from django.db.models import Max, Min

from highseas.accounts.models import User
from highseas.bench import BenchError, chunked
from highseas.bench.baselines import RawClaims
from highseas.bench.dataset import Dataset, prepare
from highseas.bench.profile import profile_service
from highseas.bench.timing import Timings, time_claims
from highseas.customers.choices import CustomerStatus
from highseas.customers.models import Customer
from highseas.engine.errors import HighSeasError
from highseas.pools import ownership

TARGET_PER_SECOND = 2_000  # on SQLite (SPEC §12)
TARGET_RATIO = 3  # service within 3× of the raw compare-and-set UPDATE + ledger INSERT (SPEC §12)
BLOCK = 500
SAMPLE_CHUNK = 500


@dataclass(frozen=True)
class ClaimBenchOptions:
    customers: int = 1_000_000
    claims: int = 5_000
    reps: int = 100
    seed: int = 1
    force: bool = False
    profile: int = 0


def pooled_sample(pool_id: int, count: int, rng: random.Random) -> list[int]:
    """``count`` distinct pooled customers of the pool, in random order over its id range.

    Draws a few times more candidate ids than needed and keeps the pooled ones; when earlier
    runs have claimed too many of those, draws a permutation of the whole range instead."""
    pooled = Customer.objects.filter(pool_id=pool_id, status=CustomerStatus.POOLED)
    if pooled.count() < count:
        raise BenchError(f"the bench pool has fewer than {count} pooled customers left")
    bounds = Customer.objects.filter(pool_id=pool_id).aggregate(low=Min("id"), high=Max("id"))
    span = range(bounds["low"], bounds["high"] + 1)
    chosen: list[int] = []
    for draw in (min(len(span), 4 * count), len(span)):
        chosen = []
        candidates = rng.sample(span, draw)
        for chunk in chunked(candidates, SAMPLE_CHUNK):
            found = set(pooled.filter(pk__in=chunk).values_list("pk", flat=True))
            chosen.extend(customer_id for customer_id in chunk if customer_id in found)
            if len(chosen) >= count:
                return chosen[:count]
    raise BenchError(f"found only {len(chosen)} of {count} pooled customers")


def claim_through_service(rep: User, customer_id: int) -> None:
    try:
        outcome = ownership.claim(rep, customer_id)
    except HighSeasError as refusal:
        raise BenchError(
            f"the service refused {rep.username}'s claim of customer {customer_id}: "
            f"{refusal.code.value} {refusal.facts}"
        ) from refusal
    if outcome.customer.owner_id != rep.pk:
        raise BenchError(f"the claim of customer {customer_id} became a request, not a claim")


@dataclass(frozen=True)
class Measured:
    timings: dict[str, Timings]
    profile: dict[str, Any] | None


def measure(dataset: Dataset, options: ClaimBenchOptions) -> Measured:
    """Timings of every path, and the profile when asked for; raw claims are undone."""
    n = options.claims
    ids = pooled_sample(dataset.pool.pk, 3 * n + options.profile, random.Random(options.seed))
    raw = RawClaims(dataset.pool.pk)
    paths = (
        (Timings("service"), claim_through_service, ids[:n]),
        (Timings("raw_conditional_update"), raw.conditional_update, ids[n : 2 * n]),
        (Timings("raw_update_and_ledger"), raw.update_and_ledger, ids[2 * n : 3 * n]),
    )
    try:
        for start in range(0, n, BLOCK):
            for timings, claim_one, path_ids in paths:
                time_claims(
                    timings, claim_one, dataset.reps, path_ids[start : start + BLOCK], start
                )
        profile = (
            profile_service(claim_through_service, dataset.reps, ids[3 * n :])
            if options.profile
            else None
        )
    finally:
        raw.restore()
        raw.close()
    return Measured({timings.path: timings for timings, _, _ in paths}, profile)


def figures(
    dataset: Dataset, options: ClaimBenchOptions, measured: Measured
) -> list[dict[str, Any]]:
    """One JSON-ready figure per line: the dataset, the service (with its baseline and targets),
    each baseline, and the profile when there is one."""
    db = connection.vendor
    common = {"bench": "claim", "db": db, "customers": dataset.customers, "reps": len(dataset.reps)}
    service, raw = measured.timings["service"], measured.timings["raw_conditional_update"]
    ledger = measured.timings["raw_update_and_ledger"]
    ratio = raw.per_second / service.per_second
    target = TARGET_PER_SECOND if db == "sqlite" else None
    lines: list[dict[str, Any]] = [
        {
            **common,
            "path": "dataset",
            "inserted": dataset.inserted,
            "build_seconds": round(dataset.build_seconds, 2),
            "rows_per_second": round(2 * dataset.inserted / dataset.build_seconds)
            if dataset.inserted
            else None,
        },
        {
            **common,
            **service.figure(),
            "seed": options.seed,
            "baseline": raw.path,
            "baseline_per_second": round(raw.per_second, 1),
            "ratio": round(ratio, 2),
            "ratio_to_update_and_ledger": round(ledger.per_second / service.per_second, 2),
            "target_per_second": target,
            "target_ratio": TARGET_RATIO,
            "meets_target": (target is None or service.per_second >= target)
            and ledger.per_second / service.per_second <= TARGET_RATIO,
        },
        {**common, **raw.figure()},
        {**common, **ledger.figure()},
    ]
    if measured.profile is not None:
        lines.append({**common, "path": "service_profile", **measured.profile})
    return lines


def run(options: ClaimBenchOptions) -> list[dict[str, Any]]:
    dataset = prepare(customers=options.customers, reps=options.reps, force=options.force)
    return figures(dataset, options, measure(dataset, options))
