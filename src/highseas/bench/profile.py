"""Where a service claim spends its time.

Run on claims beyond the measured ones, in two halves, so that neither instrument distorts the
other or the figures: the first half under ``CaptureQueriesContext`` (which statements, how
many per claim), the second under ``cProfile`` (self time by layer, cumulative time of the
service's own steps, the costliest functions).
"""

from __future__ import annotations

import cProfile
import re
from collections import Counter, defaultdict
from collections.abc import Sequence
from types import CodeType
from typing import Any

from django.db import connection
from django.test.utils import CaptureQueriesContext

from highseas.accounts.models import User
from highseas.bench.timing import ClaimOne, Timings, time_claims

TOP = 12
SQLITE = "database: sqlite3 driver and engine"
PSYCOPG = "database: psycopg driver and server round trips"
# Python code by the path of its file, first match wins.
LAYERS = (
    ("/psycopg", PSYCOPG),
    ("/django/db/models/sql/", "Django ORM: SQL compilation"),
    ("/django/db/models/", "Django ORM: querysets, models, fields"),
    ("/django/db/", "Django DB layer: cursors, transactions"),
    ("/django/utils/translation/", "Django translation"),
    ("/django/", "Django, other"),
    ("/highseas/", "HighSeas services and engine"),
)
BUILTINS = "Python standard library and builtins"


def statements(sql: str) -> list[str]:
    """The statements a query runs: one, or each write of a ``WITH … AS (UPDATE …) INSERT …``
    (PostgreSQL's claim moves the customer and writes its ledger row in one round trip)."""
    if sql.lstrip().upper().startswith("WITH"):
        writes = re.findall(r'\b(UPDATE|INSERT INTO|DELETE FROM)\s+"?(\w+)"?', sql, re.IGNORECASE)
        if writes:
            return [f"{verb.split()[0].upper()} {table}" for verb, table in writes]
    return [statement(sql)]


def statement(sql: str) -> str:
    """A query's kind and table, e.g. ``SELECT COUNT pools_ownershipevent``."""
    verb = sql.split(None, 1)[0].upper() if sql.strip() else "?"
    table = re.search(r'(?:FROM|UPDATE|INTO)\s+"?(\w+)"?', sql, re.IGNORECASE)
    parts = [verb]
    if verb == "SELECT" and "COUNT(" in sql.upper():
        parts.append("COUNT")
    if table:
        parts.append(table.group(1))
    if sql.rstrip().upper().endswith("FOR UPDATE"):
        parts.append("FOR UPDATE")
    return " ".join(parts)


def _label(code: CodeType | str) -> str:
    if isinstance(code, str):
        return re.sub(r" at 0x[0-9a-f]+", "", code)
    short = re.split(r"site-packages/|/src/", code.co_filename)[-1]
    return f"{short}:{code.co_firstlineno}({code.co_name})"


def _layer(code: CodeType | str) -> str:
    """Which layer a profiled function belongs to. C functions carry a name, not a file: the
    driver's (``sqlite3.Cursor.execute``, reached as ``SQLiteCursorWrapper.execute`` through
    ``super()``; ``psycopg``'s C parts) are the database's time."""
    if isinstance(code, str):
        if "sqlite3" in code or "SQLiteCursorWrapper" in code:
            return SQLITE
        return PSYCOPG if "psycopg" in code else BUILTINS
    return next((layer for part, layer in LAYERS if part in code.co_filename), BUILTINS)


def count_queries(claim_one: ClaimOne, reps: Sequence[User], ids: Sequence[int]) -> dict[str, Any]:
    with CaptureQueriesContext(connection) as captured:
        time_claims(Timings("queries"), claim_one, reps, ids, 0)
    kinds = Counter(
        kind for query in captured.captured_queries for kind in statements(query["sql"])
    )
    claims = max(len(ids), 1)
    return {
        "queries_per_claim": round(len(captured.captured_queries) / claims, 2),
        "statements_per_claim": {kind: round(n / claims, 2) for kind, n in kinds.most_common()},
    }


def profile_calls(claim_one: ClaimOne, reps: Sequence[User], ids: Sequence[int]) -> dict[str, Any]:
    profiler = cProfile.Profile()
    timings = Timings("profiled")
    profiler.enable()
    time_claims(timings, claim_one, reps, ids, 0)
    profiler.disable()
    claims = max(len(ids), 1)
    per_claim = 1000 / claims
    layers: dict[str, float] = defaultdict(float)
    steps: dict[str, float] = {}
    top: list[tuple[float, str, float]] = []
    for entry in profiler.getstats():
        label = _label(entry.code)
        layers[_layer(entry.code)] += entry.inlinetime
        if "highseas/" in label and "highseas/bench/" not in label:
            steps[label] = steps.get(label, 0.0) + entry.totaltime
        top.append((entry.inlinetime, label, entry.callcount))
    top.sort(reverse=True)
    return {
        "profiled_ms_per_claim": round(timings.elapsed * per_claim, 3),
        "self_ms_per_claim_by_layer": {
            layer: round(seconds * per_claim, 3)
            for layer, seconds in sorted(layers.items(), key=lambda item: -item[1])
        },
        "service_steps_cumulative_ms_per_claim": {
            label: round(seconds * per_claim, 3)
            for label, seconds in sorted(steps.items(), key=lambda item: -item[1])[:TOP]
        },
        "top_self_time": [
            {
                "function": label,
                "ms_per_claim": round(seconds * per_claim, 4),
                "calls_per_claim": round(calls / claims, 2),
            }
            for seconds, label, calls in top[:TOP]
        ],
    }


def profile_service(
    claim_one: ClaimOne, reps: Sequence[User], customer_ids: Sequence[int]
) -> dict[str, Any]:
    """Queries per claim from the first half of ``customer_ids``, a cProfile breakdown from
    the second half."""
    half = max(len(customer_ids) // 2, 1)
    return {
        "claims": len(customer_ids),
        **count_queries(claim_one, reps, customer_ids[:half]),
        **profile_calls(claim_one, reps, customer_ids[half:]),
    }
