"""Duplicate screening of creates and edits, by the target pool's policy (SPEC §8).

``screen`` runs inside the writing transaction, before the write:

1. the pool's ``duplicate_policy`` for the entry point (manual / api / import) gives the
   action: ``block`` (default), ``warn`` or ``allow``; ``allow`` looks for nothing;
2. the exact keys are locked (PostgreSQL advisory locks), so two concurrent creates of the
   same phone cannot both pass;
3. matches are found (``customers.duplicates``) and judged (``engine.duplicates.decide``);
4. a blocking match raises ``duplicate`` (HTTP 409) naming the holder and status of the
   strongest match, with the public view of each match and no private field; the raise
   rolls the transaction back, so a refused create leaves no trace;
5. otherwise the warnings go back to the caller, to return with the written customer.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from highseas.customers import duplicates
from highseas.customers.models import Customer
from highseas.customers.public import public_rows
from highseas.engine.duplicates import (
    DuplicateAction,
    DuplicateKeys,
    EntryPoint,
    Match,
    action_for,
    decide,
    exact_matches,
    merge_matches,
)
from highseas.engine.errors import ErrorCode, HighSeasError, gettext_noop
from highseas.pools.models import Pool, default_duplicate_policy


@dataclass(frozen=True)
class Screening:
    keys: DuplicateKeys
    warnings: list[dict[str, Any]] = field(default_factory=list)


def entry_point_of(value: str) -> EntryPoint:
    try:
        return EntryPoint(value)
    except ValueError:
        raise HighSeasError(
            ErrorCode.VALIDATION_ERROR,
            gettext_noop("Unknown entry point."),
            errors={"entry_point": [f"one of {', '.join(EntryPoint)}"]},
        ) from None


def action_of(pool: Pool | None, entry_point: EntryPoint) -> DuplicateAction:
    return action_for(pool.duplicate_policy if pool else default_duplicate_policy(), entry_point)


def describe(
    matches: Iterable[Match], found: dict[int, dict[str, Any]] | None = None
) -> list[dict[str, Any]]:
    """Each match as its customer's public view (read now, or taken from ``found``), holder
    and how it matched."""
    matches = list(matches)
    if found is None:
        found = public_rows([m.customer_id for m in matches])
    return [
        {
            **found[match.customer_id],
            "match": match.kind.value,
            "matched_on": list(match.fields),
            "score": match.score,
        }
        for match in matches
        if match.customer_id in found
    ]


def refusal(described: list[dict[str, Any]]) -> HighSeasError:
    strongest = described[0]
    return HighSeasError(
        ErrorCode.DUPLICATE,
        gettext_noop("This customer already exists."),
        holder=strongest["holder"],
        status=strongest["status"],
        matches=described,
    )


def screen(
    fields: dict[str, Any],
    *,
    pool: Pool | None,
    entry_point: str | EntryPoint,
    exclude: Collection[int] = (),
    only: Collection[str] | None = None,
    warnings: bool = True,
    lock: bool = True,
) -> Screening:
    """Check ``fields`` before they are written (see the module's steps); ``only`` limits
    the check to these keys (an edit screens the keys it changes). Without ``warnings`` the
    matches that could only warn are not looked for (an import reports what blocks); without
    ``lock`` the keys are not locked (a preview, rolled back, has no write to serialize, and
    a whole file's keys would overflow PostgreSQL's lock table)."""
    keys = duplicates.keys_of(fields)
    action = action_of(pool, entry_point_of(entry_point))
    probe = keys if only is None else keys.only(only)
    if action is DuplicateAction.ALLOW or probe.is_empty:
        return Screening(keys)
    if action is DuplicateAction.WARN and not warnings:
        return Screening(keys)
    if lock:
        duplicates.lock_keys(probe)
    matches = duplicates.find_matches(
        probe,
        exclude=exclude,
        fuzzy_after_exact=action is not DuplicateAction.BLOCK,
        fuzzy=warnings,
    )
    verdict = decide(action, matches)
    if verdict.blocking:
        raise refusal(describe(verdict.blocking))
    return Screening(keys, describe(verdict.warnings))


def lock_ahead(
    keys: Collection[DuplicateKeys | duplicates.Probe],
    *,
    pool: Pool | None,
    entry_point: str | EntryPoint,
) -> None:
    """Lock now, in one statement, the keys that screening these rows would lock one by one:
    for a batch that must hold them before it locks anything else (``intake.importer``).
    Screening them later locks them again, which costs nothing."""
    if action_of(pool, entry_point_of(entry_point)) is not DuplicateAction.ALLOW:
        duplicates.lock_keys_many(keys)


def screen_many(
    rows: list[dict[str, Any]],
    *,
    pool: Pool | None,
    entry_point: str | EntryPoint,
    lock: bool = True,
    probes: list[duplicates.Probe] | None = None,
) -> list[Screening | HighSeasError]:
    """``screen(fields, warnings=False)`` for each row of a batch (an import's), against the
    database as it was before the batch: the keys locked and the exact matches found in one
    statement each instead of one per row. Each row gets its screening or the ``duplicate``
    refusal ``screen`` would have raised for it alone. ``probes``: the rows' keys with their
    blind values (``duplicates.probe_of``), when the caller worked them out already."""
    if probes is None:
        keys = [duplicates.keys_of(fields) for fields in rows]
    else:
        keys = [probe.keys for probe in probes]
    action = action_of(pool, entry_point_of(entry_point))
    if action is not DuplicateAction.BLOCK:  # allow looks for nothing; warn only warns
        return [Screening(k) for k in keys]
    probed = [i for i, k in enumerate(keys) if not k.is_empty]
    if lock:
        duplicates.lock_keys_many(
            [keys[i] for i in probed] if probes is None else [probes[i] for i in probed]
        )
    found = duplicates.exact_found_many(
        [keys[i] for i in probed], None if probes is None else [probes[i].asked for i in probed]
    )
    results: list[Screening | HighSeasError] = [Screening(k) for k in keys]
    blocked = {}
    for i, candidates in zip(probed, found, strict=True):
        verdict = decide(action, merge_matches(exact_matches(keys[i], candidates), []))
        if verdict.blocking:
            blocked[i] = verdict.blocking
    views = public_rows(sorted({m.customer_id for ms in blocked.values() for m in ms}))
    for i, blocking in blocked.items():
        results[i] = refusal(describe(blocking, views))
    return results


@dataclass(frozen=True)
class Updated:
    customer: Customer
    warnings: list[dict[str, Any]] = field(default_factory=list)


@transaction.atomic
def update_customer(
    *,
    customer: Customer,
    changes: dict[str, Any],
    entry_point: str | EntryPoint = EntryPoint.API,
) -> Updated:
    """Edit business fields (the caller checked that its user may): the keys the edit changes are
    screened like a create into the customer's pool, and stored with the fields. Only the
    changed columns are written, so a concurrent ownership move is not overwritten."""
    if customer.merged_into_id is not None:
        raise HighSeasError(ErrorCode.NOT_FOUND, _("No such customer."))
    before = duplicates.stored_keys(customer)
    for name, value in changes.items():
        setattr(customer, name, value)
    keys = duplicates.apply_keys(customer)
    changed = duplicates.changed_keys(before, keys)
    screening = (
        screen(
            {name: getattr(customer, name) for name in duplicates.SOURCE_FIELDS},
            pool=customer.pool,
            entry_point=entry_point,
            exclude=[customer.pk],
            only=changed,
        )
        if changed
        else Screening(keys)
    )
    customer.save(update_fields=[*changes, *duplicates.KEY_COLUMNS.values(), "updated_at"])
    return Updated(customer, screening.warnings)
