"""The duplicate check's decisions (SPEC §8): keys, matches, scores and the policy verdict.

Given the keys of a new (or edited) customer and those of the existing customers the
database found for them, this module says which are exact matches (the same normalized
phone, e-mail, credit code or company name), which are fuzzy name matches and how close,
and what the pool's policy for the entry point makes of them:

1. ``block`` (the default): an exact match refuses the write; fuzzy matches warn;
2. ``warn``: every match warns, nothing is refused;
3. ``allow``: matches are neither looked for nor reported.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from rapidfuzz import fuzz, process

from highseas.engine.normalize import (
    normalize_company_name,
    normalize_credit_code,
    normalize_email,
    normalize_phone,
)

# rapidfuzz WRatio, 0–100: 华为技术 ~ 华为科技 75, 字节跳动科技 ~ 字节跳动网络技术 71.
FUZZY_THRESHOLD = 70.0
BLOCK_PREFIX = 2  # fuzzy candidates share the first characters of the core name
PERSON = "person"


class MatchKind(StrEnum):
    EXACT = "exact"
    FUZZY = "fuzzy"


class DuplicateAction(StrEnum):
    BLOCK = "block"
    WARN = "warn"
    ALLOW = "allow"


class EntryPoint(StrEnum):
    MANUAL = "manual"
    API = "api"
    IMPORT = "import"


@dataclass(frozen=True, slots=True)
class DuplicateKeys:
    """Normalized keys; an empty string is "no key" and matches nothing."""

    phone: str = ""
    email: str = ""
    credit_code: str = ""
    name: str = ""

    def exact_fields(self, other: DuplicateKeys) -> tuple[str, ...]:
        """The keys both have and share, in a fixed order."""
        return tuple(
            name
            for name in ("credit_code", "phone", "email", "name")
            if getattr(self, name) and getattr(self, name) == getattr(other, name)
        )

    def only(self, names: Iterable[str]) -> DuplicateKeys:
        """These keys, the others blanked (to screen only what an edit changed)."""
        kept = set(names)
        return DuplicateKeys(
            **{
                name: getattr(self, name) if name in kept else ""
                for name in ("phone", "email", "credit_code", "name")
            }
        )

    @property
    def is_empty(self) -> bool:
        return not (self.phone or self.email or self.credit_code or self.name)


def duplicate_keys(
    *, name: str = "", kind: str = "", phone: str = "", email: str = "", credit_code: str = ""
) -> DuplicateKeys:
    """The keys of a customer's fields. A person's name is no key: two people called 张伟
    are not one customer, so persons match on phone, e-mail and credit code only."""
    return DuplicateKeys(
        phone=normalize_phone(phone or "") or "",
        email=normalize_email(email or "") or "",
        credit_code=normalize_credit_code(credit_code or "") or "",
        name="" if kind == PERSON or not name else normalize_company_name(name),
    )


def name_block(core_name: str) -> str:
    """The blocking key: the first characters of the core name."""
    return core_name[:BLOCK_PREFIX]


@dataclass(frozen=True, slots=True)
class Match:
    customer_id: int
    kind: MatchKind
    fields: tuple[str, ...]
    score: float


def exact_matches(keys: DuplicateKeys, found: Iterable[tuple[int, DuplicateKeys]]) -> list[Match]:
    return [
        Match(customer_id, MatchKind.EXACT, shared, 100.0)
        for customer_id, other in found
        if (shared := keys.exact_fields(other))
    ]


def fuzzy_matches(
    core_name: str,
    neighbours: Mapping[int, str],
    *,
    threshold: float = FUZZY_THRESHOLD,
    limit: int = 10,
) -> list[Match]:
    """Neighbouring core names scoring at least ``threshold`` (WRatio), best first; the
    same core name is an exact match, not a fuzzy one."""
    if not core_name:
        return []
    scored = process.extract(
        core_name,
        {cid: name for cid, name in neighbours.items() if name and name != core_name},
        scorer=fuzz.WRatio,
        score_cutoff=threshold,
        limit=limit,
    )
    return [
        Match(customer_id, MatchKind.FUZZY, ("name",), round(score, 1))
        for _name, score, customer_id in scored
    ]


def merge_matches(exact: Sequence[Match], fuzzy: Sequence[Match]) -> list[Match]:
    """Exact matches first (most shared keys first), then fuzzy ones by score; a customer
    appears once, under its strongest match."""
    seen: set[int] = set()
    ordered: list[Match] = []
    for match in [
        *sorted(exact, key=lambda m: (-len(m.fields), m.customer_id)),
        *sorted(fuzzy, key=lambda m: (-m.score, m.customer_id)),
    ]:
        if match.customer_id not in seen:
            seen.add(match.customer_id)
            ordered.append(match)
    return ordered


def action_for(policy: Mapping[str, str] | None, entry_point: EntryPoint) -> DuplicateAction:
    """The pool's action for this entry point; unknown or missing values block."""
    value = (policy or {}).get(entry_point.value, DuplicateAction.BLOCK.value)
    try:
        return DuplicateAction(value)
    except ValueError:
        return DuplicateAction.BLOCK


@dataclass(frozen=True, slots=True)
class Verdict:
    blocking: list[Match] = field(default_factory=list)
    warnings: list[Match] = field(default_factory=list)


def decide(action: DuplicateAction, matches: Sequence[Match]) -> Verdict:
    if action is DuplicateAction.ALLOW:
        return Verdict()
    if action is DuplicateAction.WARN:
        return Verdict(warnings=list(matches))
    exact = [m for m in matches if m.kind is MatchKind.EXACT]
    return Verdict(
        blocking=exact, warnings=[] if exact else [m for m in matches if m.kind is MatchKind.FUZZY]
    )
