"""Duplicate keys in the database: writing them, and finding the customers that match.

Exact matches are one indexed lookup per key (``phone_key``, ``email_key``, ``credit_key``,
``name_key``), OR-ed in one query. Fuzzy name matches use sorted-neighbourhood blocking on
the ``name_key`` index:

1. the block is every core name starting with the same ``BLOCK_PREFIX`` characters;
2. inside it, the ``WINDOW`` names sorting just after and just before the new core name are
   read (two index range scans, each ``LIMIT WINDOW``), so a check reads at most
   ``2 × WINDOW`` rows whatever the block's size;
3. rapidfuzz scores those few names in C++.
A name that differs from the new one in its first characters is not found by (1); one that
differs early but after the prefix may fall outside (2) in a block larger than the window.
The exact keys do not depend on the blocking.

The phone, e-mail and credit-code keys are stored as blind indexes (``customers.crypto``): a
lookup asks for the index values of the normalized text under every readable data key, so a
key rotation in progress finds rows under either key. ``DuplicateKeys`` in this module hold the
normalized text; only the columns hold the blind values.

A customer merged into another carries no keys (``pools.merge`` clears them, ``unmerge``
puts them back), so neither lookup needs to read the table to leave it out: the blocking
scans read the ``name_key`` index alone.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q, QuerySet

from highseas.customers import crypto
from highseas.customers.keyfill import KeyRow, write_keys
from highseas.customers.models import Customer
from highseas.engine.duplicates import (
    FUZZY_THRESHOLD,
    DuplicateKeys,
    Match,
    duplicate_keys,
    exact_matches,
    fuzzy_matches,
    merge_matches,
    name_block,
)

WINDOW = 50
EXACT_LIMIT = 20
KEY_COLUMNS = {
    "phone": "phone_key",
    "email": "email_key",
    "credit_code": "credit_key",
    "name": "name_key",
}
BLIND_KEYS = ("phone", "email", "credit_code")  # the name key stays in clear (fuzzy blocking)
SOURCE_FIELDS = ("name", "kind", "phone", "email", "credit_code")
ADVISORY_LOCK_CLASS = 0x4853_4450  # "HSDP": the duplicate check's advisory locks


def keys_of(fields: dict[str, Any]) -> DuplicateKeys:
    return duplicate_keys(**{name: fields.get(name) or "" for name in SOURCE_FIELDS})


def column_value(key: str, value: str, ring: crypto.Keyring | None = None) -> str | None:
    """What the column of ``key`` stores for this normalized value: its blind index under the
    current key (the name in clear); ``None`` for no value."""
    if not value:
        return None
    return crypto.blind(key, value, ring) if key in BLIND_KEYS else value


def lookup_values(key: str, value: str) -> list[str]:
    """What a lookup of this normalized value asks the column of ``key`` for."""
    return crypto.blinds(key, value) if key in BLIND_KEYS else [value]


def key_values(keys: DuplicateKeys) -> dict[str, str | None]:
    """The model's key columns for these keys (``None`` for no key)."""
    ring = crypto.keyring()
    return {
        column: column_value(key, getattr(keys, key), ring) for key, column in KEY_COLUMNS.items()
    }


@dataclass(frozen=True)
class Probe:
    """A row's keys with their blind values worked out once: what a lookup asks each key's
    column for (``lookup_values``) and what the row's columns store (``key_values``). An
    import makes them before the batch's transaction (``probe_of``)."""

    keys: DuplicateKeys
    asked: dict[str, list[str]]  # by key, the probe's non-empty keys only
    columns: dict[str, str | None]  # by column, as ``key_values``


_MACS: tuple[crypto.Keyring, list[Any]] | None = None  # the keyring, each readable key's MAC


def _macs(ring: crypto.Keyring) -> list[Any]:
    """An HMAC-SHA256 object keyed by each readable blind key, the current key's first, made
    once per keyring (a rotation or a reload makes another ring)."""
    global _MACS
    cached = _MACS
    if cached is not None and cached[0] is ring:
        return cached[1]
    macs = [
        hmac.new(ring.blind_key(kid), digestmod=hashlib.sha256) for kid in (ring.current, *ring.old)
    ]
    _MACS = (ring, macs)
    return macs


def probe_values(key: str, value: str) -> list[str]:
    """``lookup_values`` for many rows, as a batch asks: the same values, each blind value
    from a copy of its key's HMAC object (``crypto.blind`` sets up the HMAC anew for each
    value, which costs about as much as hashing it)."""
    if key not in BLIND_KEYS:
        return [value]
    message = f"{key}\0{value}".encode()
    found = []
    for mac in _macs(crypto.keyring()):
        each = mac.copy()
        each.update(message)
        found.append(each.hexdigest()[: crypto.BLIND_HEX])
    return found


def probe_of(fields: dict[str, Any]) -> Probe:
    """The ``Probe`` of a row's fields (normalized as the customer will store them)."""
    keys = keys_of(fields)
    asked = {key: probe_values(key, value) for key in KEY_COLUMNS if (value := getattr(keys, key))}
    # a stored value is the lookup's first: the blind value under the current key (``blinds``)
    columns = {
        column: asked[key][0] if key in asked else None for key, column in KEY_COLUMNS.items()
    }
    return Probe(keys, asked, columns)


def stored_keys(customer: Customer) -> DuplicateKeys:
    """The customer's key columns as stored (blind values): compare them with
    ``changed_keys``, not with normalized keys."""
    return DuplicateKeys(
        **{key: getattr(customer, column) or "" for key, column in KEY_COLUMNS.items()}
    )


def changed_keys(stored: DuplicateKeys, keys: DuplicateKeys) -> list[str]:
    """The keys whose normalized value in ``keys`` is not what ``stored`` (from
    ``stored_keys``) holds, under any readable data key."""
    changed = []
    for key in KEY_COLUMNS:
        value, held = getattr(keys, key), getattr(stored, key)
        if (value or held) and held not in (lookup_values(key, value) if value else [""]):
            changed.append(key)
    return changed


def apply_keys(customer: Customer) -> DuplicateKeys:
    """Set the customer's key columns from its business fields (not saved)."""
    keys = keys_of({name: getattr(customer, name) for name in SOURCE_FIELDS})
    for column, value in key_values(keys).items():
        setattr(customer, column, value)
    return keys


def live_customers() -> QuerySet[Customer]:
    """Customers that count for duplicates: not merged into another."""
    return Customer.objects.filter(merged_into__isnull=True)


def lock_keys(keys: DuplicateKeys) -> None:
    """Serialize concurrent writes of the same exact keys until the transaction ends.

    On PostgreSQL each key takes a transaction-scoped advisory lock (in a fixed order, so
    two writers never wait on each other in a cycle); on SQLite the write transaction is
    already exclusive (``BEGIN IMMEDIATE``)."""
    lock_keys_many([keys])


def lock_keys_many(probes: Collection[DuplicateKeys | Probe]) -> None:
    """``lock_keys`` for many probes (keys, or ``Probe``s with their stored values worked
    out), in one statement and one fixed order."""
    if connection.vendor != "postgresql":
        return
    ring = crypto.keyring()  # lock ids from the stored (blind) values, not the plaintext
    values = sorted(
        {
            f"{key}:{probe.columns[column]}"
            if isinstance(probe, Probe)
            else f"{key}:{column_value(key, getattr(probe, key), ring)}"
            for probe in probes
            for key, column in KEY_COLUMNS.items()
            if getattr(probe.keys if isinstance(probe, Probe) else probe, key)
        }
    )
    if not values:
        return
    objects = [
        int.from_bytes(hashlib.blake2b(value.encode(), digest_size=4).digest()) - 2**31
        for value in values
    ]
    with connection.cursor() as cursor:  # one round trip, in the array's order
        cursor.execute(
            "SELECT count(pg_advisory_xact_lock(%s, o)) FROM unnest(%s::integer[]) AS o",
            [ADVISORY_LOCK_CLASS, objects],
        )


# The two lookups below run on every create, so they are plain SQL on the Django cursor: the
# ORM spends longer building each of these statements than the database spends running it.


def _not_in(exclude: Collection[int]) -> tuple[str, list[int]]:
    if not exclude:
        return "", []
    return f" AND id NOT IN ({', '.join(['%s'] * len(exclude))})", list(exclude)


def _exact_found(
    keys: DuplicateKeys, exclude: Collection[int]
) -> Iterator[tuple[int, DuplicateKeys]]:
    """Customers sharing any key (one indexed lookup per key value, OR-ed), newest first;
    each with the keys it shares given as the probe's normalized values."""
    asked = {key: lookup_values(key, value) for key in KEY_COLUMNS if (value := getattr(keys, key))}
    if not asked:
        return
    terms = [(KEY_COLUMNS[key], value) for key, values in asked.items() for value in values]
    excluded, excluded_ids = _not_in(exclude)
    params: list[Any] = [value for _, value in terms]
    sql = (
        f"SELECT id, {', '.join(KEY_COLUMNS.values())} FROM {Customer._meta.db_table} "
        f"WHERE ({' OR '.join(f'{column} = %s' for column, _ in terms)}) "
        f"{excluded} ORDER BY id DESC LIMIT {EXACT_LIMIT}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params + excluded_ids)
        rows = cursor.fetchall()
    for customer_id, *columns in rows:
        stored = dict(zip(KEY_COLUMNS, columns, strict=True))
        yield (
            customer_id,
            DuplicateKeys(
                **{
                    key: getattr(keys, key) if stored[key] in asked.get(key, ()) else ""
                    for key in KEY_COLUMNS
                }
            ),
        )


def exact_found_many(
    probes: list[DuplicateKeys],
    asked: list[dict[str, list[str]]] | None = None,
) -> list[list[tuple[int, DuplicateKeys]]]:
    """``_exact_found`` for many probes at once (an import's batch): one statement with an
    ``IN`` list per key column instead of one statement per probe; each probe gets the
    customers sharing any of its keys, newest first, at most ``EXACT_LIMIT``, each with the
    keys it shares — what ``_exact_found`` would have yielded for it alone. ``asked``: each
    probe's lookup values when the caller has them (``Probe.asked``)."""
    if asked is None:
        asked = [
            {key: lookup_values(key, value) for key in KEY_COLUMNS if (value := getattr(k, key))}
            for k in probes
        ]
    wanted: dict[str, set[str]] = {column: set() for column in KEY_COLUMNS.values()}
    for one in asked:
        for key, values in one.items():
            wanted[KEY_COLUMNS[key]].update(values)
    terms = [(column, sorted(values)) for column, values in wanted.items() if values]
    if not terms:
        return [[] for _ in probes]
    if connection.vendor == "postgresql":  # one array each: a statement the driver caches
        where = " OR ".join(f"{column} = ANY(%s::text[])" for column, _v in terms)
        params: list[Any] = [values for _, values in terms]
    else:
        where = " OR ".join(f"{column} IN ({', '.join(['%s'] * len(v))})" for column, v in terms)
        params = [value for _, values in terms for value in values]
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT id, {', '.join(KEY_COLUMNS.values())} FROM {Customer._meta.db_table} "
            f"WHERE {where}",
            params,
        )
        rows = cursor.fetchall()
    by_value: dict[tuple[str, str], list[tuple[int, dict[str, Any]]]] = {}
    for customer_id, *columns in rows:
        stored = dict(zip(KEY_COLUMNS, columns, strict=True))
        for key, value in stored.items():
            if value is not None:
                by_value.setdefault((key, value), []).append((customer_id, stored))
    found: list[list[tuple[int, DuplicateKeys]]] = []
    for keys, one in zip(probes, asked, strict=True):
        hits = {
            customer_id: stored
            for key, values in one.items()
            for value in values
            for customer_id, stored in by_value.get((key, value), ())
        }
        newest = sorted(hits, reverse=True)[:EXACT_LIMIT]
        found.append(
            [
                (
                    customer_id,
                    DuplicateKeys(
                        **{
                            key: getattr(keys, key)
                            if hits[customer_id][key] in one.get(key, ())
                            else ""
                            for key in KEY_COLUMNS
                        }
                    ),
                )
                for customer_id in newest
            ]
        )
    return found


def _upper_bound(prefix: str) -> str:
    """The smallest string above every string starting with ``prefix`` (code-point order)."""
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)


def neighbours(core_name: str, exclude: Collection[int], window: int = WINDOW) -> dict[int, str]:
    """The core names around ``core_name`` in its block (see the module's steps 1–2): two
    index range scans, each stopping after ``window`` rows, in one statement."""
    block = name_block(core_name)
    if not block:
        return {}
    excluded, excluded_ids = _not_in(exclude)
    side = (
        f"SELECT id, name_key FROM {Customer._meta.db_table} "
        f"WHERE name_key >= %s AND name_key < %s{excluded} "
        "ORDER BY name_key {order} LIMIT %s"
    )
    sql = (
        f"SELECT * FROM ({side.format(order='ASC')}) AS after_name "
        f"UNION ALL SELECT * FROM ({side.format(order='DESC')}) AS before_name"
    )
    params: list[Any] = [
        *(core_name, _upper_bound(block), *excluded_ids, window),
        *(block, core_name, *excluded_ids, window),
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return {customer_id: name for customer_id, name in cursor.fetchall() if name}


def fuzzy_threshold() -> float:
    return float(getattr(settings, "HIGHSEAS_FUZZY_NAME_THRESHOLD", FUZZY_THRESHOLD))


def find_matches(
    keys: DuplicateKeys,
    *,
    exclude: Collection[int] = (),
    fuzzy_after_exact: bool = True,
    fuzzy: bool = True,
) -> list[Match]:
    """Exact matches on any key, then fuzzy name matches, strongest first. Without
    ``fuzzy_after_exact``, an exact match ends the search (a blocking policy needs no more);
    without ``fuzzy``, only exact matches are looked for."""
    exact = exact_matches(keys, _exact_found(keys, exclude))
    close = (
        fuzzy_matches(keys.name, neighbours(keys.name, exclude), threshold=fuzzy_threshold())
        if fuzzy and keys.name and (fuzzy_after_exact or not exact)
        else []
    )
    return merge_matches(exact, close)


def backfill_keys(*, batch_size: int = 5000, only_missing: bool = True) -> Iterator[int]:
    """Compute the keys of every customer (or only of those that have none yet), one committed
    batch at a time; yields how many customers each batch covered. Rows written outside the
    services (the demo loader, the bench's raw inserts, imports from older versions) get
    their keys this way. Merged-away customers keep none."""
    missing = Q(phone_key__isnull=True, email_key__isnull=True, name_key__isnull=True)
    last_id = 0
    while True:
        ids = list(
            Customer.objects.filter(pk__gt=last_id)
            .order_by("pk")
            .values_list("pk", flat=True)[:batch_size]
        )
        if not ids:
            return
        rows = live_customers().filter(pk__gte=ids[0], pk__lte=ids[-1])
        if only_missing:
            rows = rows.filter(missing)
        keyed: list[KeyRow] = []
        crypto.keyring()  # read (or generate) the keys once, before the loop
        for pk, *values in rows.values_list("pk", *SOURCE_FIELDS):
            keys = key_values(keys_of(dict(zip(SOURCE_FIELDS, values, strict=True))))
            keyed.append((pk, *(keys[column] for column in KEY_COLUMNS.values())))
        with transaction.atomic():
            write_keys(connection, Customer._meta.db_table, keyed)
        last_id = ids[-1]
        yield len(ids)
