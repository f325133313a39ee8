"""``highseas bench dedup`` and ``highseas bench search`` (SPEC §12): one check or one search
against the claim bench's dataset (1,000,000 customers by default), beside raw SQL.

1. Prepare the shared dataset (``dataset.prepare``) and fill the duplicate keys its raw
   inserts left empty (``customers.duplicates.backfill_keys``; timed, done once).
2. Draw customers at random over the id range (seeded) and derive the probes from them:
   - dedup: the same phone written another way (must be refused), the same company written
     another way (refused), a one-character change of the name (warned), a new company
     (clean) — a quarter each;
   - search: a 4-character fragment of a name, a 2-character brand prefix, a full name, a
     phone written with spaces, a very common fragment (科技有限), the same fragment deep in
     the keyset (``before`` a random id) — a sixth each.
3. Time each probe through the service layer — the duplicate screening of a create
   (``pools.dedup.screen`` in its transaction, with the default ``block`` policy) or the
   public search (``customers.search.search`` + the public view) — interleaved in blocks
   with the raw-SQL baseline: the indexed exact lookup of the probe's phone key (its blind
   index, computed beforehand) on the DB-API cursor.
4. Report p50 / p95 / p99 overall and per probe kind, next to the baseline, and how the
   dedup probes were judged (so a fast check that finds nothing would show).
"""

from __future__ import annotations

import random
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from django.core.management.base import BaseCommand
from django.db import connection, transaction
from django.db.models import Max, Min
from tqdm import tqdm

from highseas.bench import BenchError, report
from highseas.bench.dataset import Dataset, prepare
from highseas.bench.timing import Timings
from highseas.customers.duplicates import backfill_keys, column_value
from highseas.customers.models import Customer
from highseas.customers.search import search
from highseas.engine.duplicates import EntryPoint
from highseas.engine.errors import ErrorCode, HighSeasError
from highseas.engine.normalize import normalize_company_name, normalize_phone
from highseas.pools.dedup import screen

DEDUP_BENCHMARKS = ("dedup", "search")
TARGET_P95_MS = {"dedup": 10.0, "search": 100.0}
BLOCK = 100
WARM_UP = 50
PAGE = 20
BASELINE = "raw_exact_lookup"


@dataclass(frozen=True)
class DedupBenchOptions:
    customers: int = 1_000_000
    queries: int = 2_000
    reps: int = 100
    seed: int = 1
    force: bool = False


@dataclass(frozen=True)
class Probe:
    kind: str
    fields: dict[str, Any]  # dedup: the new customer's fields; search: {"q": …, "before": …}
    phone_key: str  # what the baseline looks up: the phone's blind index


@dataclass(frozen=True)
class KeysFill:
    filled: int
    seconds: float


def fill_keys() -> KeysFill:
    """Step 1: keys for the rows written without them (none on a rerun)."""
    missing = Customer.objects.filter(
        phone_key__isnull=True, email_key__isnull=True, name_key__isnull=True
    ).count()
    started = time.perf_counter()
    if missing:
        with tqdm(total=Customer.objects.count(), desc="duplicate keys", file=sys.stderr) as bar:
            for done in backfill_keys():
                bar.update(done)
    return KeysFill(missing, time.perf_counter() - started)


def sample_rows(count: int, rng: random.Random) -> list[dict[str, Any]]:
    bounds = Customer.objects.aggregate(low=Min("id"), high=Max("id"))
    if bounds["low"] is None:
        raise BenchError("the dataset is empty")
    ids = rng.sample(range(bounds["low"], bounds["high"] + 1), min(count, bounds["high"]))
    position = {customer_id: index for index, customer_id in enumerate(ids)}
    rows: list[dict[str, Any]] = [
        dict(row)
        for row in Customer.objects.filter(pk__in=ids).values("id", "name", "phone", "city")
    ]
    return sorted(rows, key=lambda row: position[row["id"]])


def _spaced(phone: str) -> str:
    return f"+86 {phone[:3]} {phone[3:7]} {phone[7:]}"


def _fresh_phone(rng: random.Random) -> str:
    return f"199{rng.randrange(10**8):08d}"  # the dataset's phones start with 13


def _one_off(core: str, rng: random.Random) -> str:
    position = rng.randrange(2, len(core)) if len(core) > 2 else len(core) - 1
    return core[:position] + "测" + core[position + 1 :]


def _phone_key(phone: str) -> str:
    """The stored phone key (a blind index), computed before the timing starts."""
    return column_value("phone", normalize_phone(phone) or "") or ""


DEDUP_KINDS = ("phone", "name", "fuzzy", "new")


def dedup_probes(rows: list[dict[str, Any]], rng: random.Random) -> Iterator[Probe]:
    for index, row in enumerate(rows):
        core, kind = normalize_company_name(row["name"]), DEDUP_KINDS[index % len(DEDUP_KINDS)]
        phone = _fresh_phone(rng)
        if kind == "phone":
            fields = {"name": f"{rng.randrange(10**6)}号新客户商行", "phone": _spaced(row["phone"])}
            phone = row["phone"]
        elif kind == "name":
            fields = {"name": f"{core}（{row['city']}）有限公司", "phone": phone}
        elif kind == "fuzzy":
            fields = {"name": f"{_one_off(core, rng)}有限公司", "phone": phone}
        else:
            fields = {"name": f"新创{rng.randrange(10**6)}号科技有限公司", "phone": phone}
        yield Probe(kind, fields, _phone_key(phone))


SEARCH_KINDS = ("fragment", "brand_prefix", "full_name", "phone", "common", "common_deep")


def search_probes(rows: list[dict[str, Any]], rng: random.Random) -> Iterator[Probe]:
    top = max((row["id"] for row in rows), default=2)
    for index, row in enumerate(rows):
        kind = SEARCH_KINDS[index % len(SEARCH_KINDS)]
        core = normalize_company_name(row["name"])
        text, before = {
            "fragment": (core[:4], None),
            "brand_prefix": (core[:2], None),
            "full_name": (row["name"], None),
            "phone": (_spaced(row["phone"]), None),
            "common": ("科技有限", None),
            "common_deep": ("科技有限", rng.randrange(1, top)),
        }[kind]
        yield Probe(kind, {"q": text, "before": before}, _phone_key(row["phone"]))


class Screening:
    """The service path of a dedup probe; tallies how each was judged."""

    def __init__(self, dataset: Dataset) -> None:
        self.pool = dataset.pool
        self.verdicts: Counter[str] = Counter()

    def __call__(self, probe: Probe) -> None:
        with transaction.atomic():
            try:
                found = screen(probe.fields, pool=self.pool, entry_point=EntryPoint.API)
                verdict = "warned" if found.warnings else "clean"
            except HighSeasError as refusal:
                if refusal.code is not ErrorCode.DUPLICATE:
                    raise
                verdict = "refused"
        self.verdicts[f"{probe.kind}:{verdict}"] += 1


def search_once(probe: Probe) -> None:
    search(probe.fields["q"], before=probe.fields["before"], limit=PAGE)


class ExactLookup:
    """The baseline: one indexed equality lookup on the DB-API cursor."""

    def __init__(self) -> None:
        connection.ensure_connection()
        self.cursor: Any = connection.connection.cursor()
        mark = "?" if connection.vendor == "sqlite" else "%s"
        table = connection.ops.quote_name(Customer._meta.db_table)
        self.sql = (
            f"SELECT id, name, province, city, industry, level, status FROM {table} "
            f"WHERE phone_key = {mark} ORDER BY id DESC LIMIT {PAGE + 1}"
        )

    def __call__(self, probe: Probe) -> None:
        self.cursor.execute(self.sql, (probe.phone_key,))
        self.cursor.fetchall()


def time_probes(timings: Timings, run: Callable[[Probe], None], probes: list[Probe]) -> None:
    clock = time.perf_counter
    started = clock()
    for probe in probes:
        before = clock()
        run(probe)
        timings.latencies.append(clock() - before)
    timings.elapsed += clock() - started


def measure(
    service: Callable[[Probe], None], probes: list[Probe]
) -> tuple[Timings, Timings, dict[str, Timings]]:
    """Step 3: service and baseline interleaved in blocks, after a warm-up of both."""
    baseline = ExactLookup()
    for probe in probes[:WARM_UP]:
        service(probe)
        baseline(probe)
    total, raw = Timings("service"), Timings(BASELINE)
    by_kind: dict[str, Timings] = {}
    for start in range(0, len(probes), BLOCK):
        block = probes[start : start + BLOCK]
        for probe in block:
            kind = by_kind.setdefault(probe.kind, Timings(f"service:{probe.kind}"))
            time_probes(kind, service, [probe])
            total.latencies.append(kind.latencies[-1])
        time_probes(raw, baseline, block)
    total.elapsed = sum(t.elapsed for t in by_kind.values())
    baseline.cursor.close()
    return total, raw, by_kind


def latency(timings: Timings) -> dict[str, Any]:
    return {
        "path": timings.path,
        "queries": timings.count,
        "p50_ms": round(timings.percentile_ms(50), 3),
        "p95_ms": round(timings.percentile_ms(95), 3),
        "p99_ms": round(timings.percentile_ms(99), 3),
    }


def figures(
    benchmark: str,
    dataset: Dataset,
    keys: KeysFill,
    measured: tuple[Timings, Timings, dict[str, Timings]],
    extra: dict[str, Any],
) -> list[dict[str, Any]]:
    total, raw, by_kind = measured
    common = {"bench": benchmark, "db": connection.vendor, "customers": dataset.customers}
    target = TARGET_P95_MS[benchmark]
    service = latency(total)
    return [
        {
            **common,
            "path": "dataset",
            "inserted": dataset.inserted,
            "build_seconds": round(dataset.build_seconds, 2),
            "keys_filled": keys.filled,
            "keys_seconds": round(keys.seconds, 2),
        },
        {
            **common,
            **service,
            **extra,
            "baseline": BASELINE,
            "baseline_p50_ms": latency(raw)["p50_ms"],
            "baseline_p95_ms": latency(raw)["p95_ms"],
            "ratio_p95": round(service["p95_ms"] / max(latency(raw)["p95_ms"], 1e-6), 1),
            "target_p95_ms": target,
            "meets_target": service["p95_ms"] < target,
        },
        {**common, **latency(raw)},
        *({**common, **latency(timings)} for timings in by_kind.values()),
    ]


def run(benchmark: str, options: DedupBenchOptions) -> list[dict[str, Any]]:
    dataset = prepare(customers=options.customers, reps=options.reps, force=options.force)
    keys = fill_keys()
    rng = random.Random(options.seed)
    rows = sample_rows(options.queries + WARM_UP, rng)
    if benchmark == "dedup":
        screening = Screening(dataset)
        probes = list(dedup_probes(rows, rng))
        measured = measure(screening, probes)
        verdicts = dict(sorted(screening.verdicts.items()))
        return figures(benchmark, dataset, keys, measured, {"verdicts": verdicts})
    probes = list(search_probes(rows, rng))
    return figures(benchmark, dataset, keys, measure(search_once, probes), {})


def summary(lines: list[dict[str, Any]]) -> str:
    by_path = {line["path"]: line for line in lines}
    service, dataset = by_path["service"], by_path["dataset"]
    text = [
        f"{service['bench']} bench on {service['db']}: {service['customers']:,} customers "
        f"({dataset['keys_filled']:,} keys filled in {dataset['keys_seconds']:.1f} s)",
        *(
            f"  {line['path']:<28} p50 {line['p50_ms']:8.3f} ms   p95 {line['p95_ms']:8.3f} ms"
            f"   p99 {line['p99_ms']:8.3f} ms   ({line['queries']:,})"
            for line in lines
            if "p95_ms" in line
        ),
        f"target p95 < {service['target_p95_ms']:g} ms: "
        f"{'met' if service['meets_target'] else 'missed'}",
    ]
    if "verdicts" in service:
        text.append(f"  verdicts: {service['verdicts']}")
    return "\n".join(text)


def run_from_command(command: BaseCommand, benchmark: str, options: dict[str, Any]) -> None:
    """The ``bench`` command's ``dedup`` and ``search``: JSON lines out, summary on stderr."""
    bench_options = DedupBenchOptions(
        customers=options["customers"],
        queries=options["queries"],
        reps=options["reps"],
        seed=options["seed"],
        force=options["force"],
    )
    report(command, lambda: run(benchmark, bench_options), summary)
