"""``highseas bench claim``: claims per second through the service layer, beside raw SQL.

1. Prepare the dataset (``dataset.prepare``): N pooled customers in ``bench-pool``, R reps.
2. Draw distinct pooled customers at random over the whole id range (seeded), and split them
   into disjoint sets: one per measured path, and one for the optional profile.
3. Measure the three paths in interleaved blocks, so that a drift of the machine or the
   database (cache warm-up, WAL checkpoints) falls on all of them alike: ``service``
   (``ownership.claim``), ``raw_conditional_update`` and ``raw_update_and_ledger``
   (``baselines``). Reps take turns round-robin on every path.
4. The other rush paths the same way, each beside its raw baseline: a manager's assignment of
   fresh pooled customers (``service_assign``, beside ``raw_update_and_ledger``, the same
   write), then a follow-up (``service_followup`` / ``raw_followup``) and a release
   (``service_release`` / ``raw_release``) of every customer each path claimed, by its owner.
5. Optionally profile further service claims (``profile``).
6. Undo the raw baselines' claims, whatever happened, so the database stays consistent (the
   service's releases put their customers back in the pool).
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from typing import Any

from django.db import connection
from django.db.models import Max, Min

from highseas.accounts.models import User
from highseas.bench import BenchError, chunked
from highseas.bench.baselines import RawClaims
from highseas.bench.dataset import Dataset, prepare
from highseas.bench.profile import profile_service
from highseas.bench.timing import ClaimOne, Timings, time_claims
from highseas.customers.choices import CustomerStatus
from highseas.customers.models import Customer
from highseas.engine.errors import HighSeasError
from highseas.engine.ownership import EventKind
from highseas.pools import followups, ownership
from highseas.pools.models import OwnershipEvent

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
    """``count`` distinct pooled customers of the pool, never released, in random order over
    its id range.

    Draws a few times more candidate ids than needed and keeps the pooled ones; when earlier
    runs have claimed too many of those, draws a permutation of the whole range instead."""
    released = OwnershipEvent.objects.filter(kind=EventKind.RELEASED.value).values("customer_id")
    # A customer an earlier run released is left alone: its rep is in the reclaim cooldown.
    pooled = Customer.objects.filter(pool_id=pool_id, status=CustomerStatus.POOLED).exclude(
        pk__in=released
    )
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


def assign_through_service(manager: User) -> ClaimOne:
    def assign(rep: User, customer_id: int) -> None:
        outcome = ownership.assign(manager, customer_id, rep, reason="bench")
        if outcome.customer.owner_id != rep.pk:
            raise BenchError(f"the assignment of customer {customer_id} did not land")

    return assign


def followup_through_service(rep: User, customer_id: int) -> None:
    followups.log_activity(rep, customer_id, kind="call", note="bench")


def release_through_service(rep: User, customer_id: int) -> None:
    ownership.release(rep, customer_id, reason="bench")


# The rush paths measured after the claims, each with the raw baseline it is judged by.
EXTRA_PATHS = {
    "service_assign": "raw_update_and_ledger",
    "service_followup": "raw_followup",
    "service_release": "raw_release",
}


@dataclass(frozen=True)
class Measured:
    timings: dict[str, Timings]
    profile: dict[str, Any] | None
    cpu_seconds: dict[str, float]  # the client's CPU time each path took in all


def measure(dataset: Dataset, options: ClaimBenchOptions) -> Measured:
    """Timings of every path, and the profile when asked for; raw claims are undone."""
    n = options.claims
    ids = pooled_sample(dataset.pool.pk, 4 * n + options.profile, random.Random(options.seed))
    raw = RawClaims(dataset.pool.pk)
    serviced, raw_claimed = ids[:n], ids[2 * n : 3 * n]
    stages: tuple[tuple[tuple[Timings, ClaimOne, list[int]], ...], ...] = (
        (
            (Timings("service"), claim_through_service, serviced),
            (Timings("raw_conditional_update"), raw.conditional_update, ids[n : 2 * n]),
            (Timings("raw_update_and_ledger"), raw.update_and_ledger, raw_claimed),
            (
                Timings("service_assign"),
                assign_through_service(dataset.manager),
                ids[3 * n : 4 * n],
            ),
        ),
        (
            (Timings("service_followup"), followup_through_service, serviced),
            (Timings("raw_followup"), raw.followup, raw_claimed),
        ),
        (
            (Timings("service_release"), release_through_service, serviced),
            (Timings("raw_release"), raw.release_one, raw_claimed),
        ),
    )
    cpu = {timings.path: [0.0] for paths in stages for timings, _, _ in paths}
    try:
        for paths in stages:
            for start in range(0, n, BLOCK):
                for timings, claim_one, path_ids in paths:
                    counted = _cpu_counted(claim_one, cpu[timings.path])
                    time_claims(
                        timings, counted, dataset.reps, path_ids[start : start + BLOCK], start
                    )
        profile = (
            profile_service(claim_through_service, dataset.reps, ids[4 * n :])
            if options.profile
            else None
        )
    finally:
        raw.restore()
        raw.close()
    timed = {timings.path: timings for paths in stages for timings, _, _ in paths}
    return Measured(timed, profile, {path: spent[0] for path, spent in cpu.items()})


def _cpu_counted(claim_one: ClaimOne, spent: list[float]) -> ClaimOne:
    """``claim_one``, adding the process CPU time each call takes to ``spent[0]``: the client's
    share of a claim (Python, Django, the driver); the rest of its latency is the database's
    work, the round trips and, on a busy machine, waiting for a core."""

    def counted(rep: User, customer_id: int) -> None:
        before = time.process_time()
        claim_one(rep, customer_id)
        spent[0] += time.process_time() - before

    return counted


def _split(timings: Timings, cpu_seconds: float) -> dict[str, float]:
    """A path's mean latency per claim, split into the client's CPU and the rest."""
    if not timings.count:
        return {}
    mean = sum(timings.latencies) / timings.count
    client = cpu_seconds / timings.count
    return {
        "client_cpu_ms_per_claim": round(client * 1000, 3),
        "database_and_waiting_ms_per_claim": round((mean - client) * 1000, 3),
    }


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
            **_split(service, measured.cpu_seconds[service.path]),
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
        {**common, **raw.figure(), **_split(raw, measured.cpu_seconds[raw.path])},
        {**common, **ledger.figure(), **_split(ledger, measured.cpu_seconds[ledger.path])},
    ]
    for path, baseline in EXTRA_PATHS.items():
        timed, judge = measured.timings[path], measured.timings[baseline]
        lines.append(
            {
                **common,
                **timed.figure(),
                **_split(timed, measured.cpu_seconds[path]),
                "baseline": baseline,
                "baseline_per_second": round(judge.per_second, 1),
                "ratio": round(judge.per_second / timed.per_second, 2),
            }
        )
        if baseline != ledger.path:
            split = _split(judge, measured.cpu_seconds[baseline])
            lines.append({**common, **judge.figure(), **split})
    if measured.profile is not None:
        lines.append({**common, "path": "service_profile", **measured.profile})
    return lines


def run(options: ClaimBenchOptions) -> list[dict[str, Any]]:
    dataset = prepare(customers=options.customers, reps=options.reps, force=options.force)
    return figures(dataset, options, measure(dataset, options))
