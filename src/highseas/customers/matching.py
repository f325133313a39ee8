"""What a search text matches, as SQL over ``customers_customer c``, tier by tier.

A name query (anything that is not a phone, e-mail or credit code: ``customers.search``)
matches a customer in one of three tiers, strongest first:

1. **exact**: the customer's core name (``name_key``: region and legal form stripped) is the
   query's core; or, for a Latin query, the core's pinyin or initials are the query
   (``huawei``, ``hw`` → 华为); or a contact of the customer has exactly that name;
2. **prefix**: the core name starts with the query's core; the pinyin or initials start
   with the Latin query; a contact's name starts with the query;
3. **contains**: the full name contains the query — 1 or 2 characters through the
   character-pairs index, 3 or more through the trigram index (the query's core when it
   has 3 characters, so 北京字节跳动 finds 字节跳动科技（北京）有限公司).

A one-character query is selective only as a whole name or inside names: it has tiers 1
(core name only) and 3. Each tier is a list of *sources*, each a statement driven by one
index; ``member`` is the same condition as a row test, so a weaker tier leaves out the rows
of the stronger ones. The indexes are those of ``customers.fts``; SQLite and PostgreSQL
answer the same rows.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import IntEnum
from functools import cached_property
from typing import Any

from django.db import connection

from highseas.customers.fts import (
    CONTACT_TABLE,
    FTS_TABLE,
    GRAMS_FUNCTION,
    GRAMS_TABLE,
    NAMES_TABLE,
    PINYIN_TABLE,
    TABLE,
)
from highseas.engine.normalize import fold, normalize_company_name
from highseas.engine.pinyin import is_pinyin_query

LISTED_CORES = 2000  # pinyin prefixes with more cores than this are read by a subquery
MIN_CONTAINS_LENGTH = 3  # trigram indexes need three characters; pairs serve fewer
_NOT_WORD = re.compile(r"[^\w]|_", re.UNICODE)
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


class Tier(IntEnum):
    EXACT = 0
    PREFIX = 1
    CONTAINS = 2


@dataclass(frozen=True)
class Clause:
    """A condition on ``c`` with its parameters."""

    sql: str
    params: list[Any] = field(default_factory=list)


@dataclass(frozen=True)
class Source:
    """One indexed way to the rows of a tier: ``where`` restricts ``c``; with ``fts`` the
    statement starts from that condition on a names index table (``table``: SQLite's FTS
    tables, PostgreSQL's names table, each keyed by the customer's id as ``rowid``) instead
    of the customers table."""

    where: Clause
    fts: Clause | None = None  # drive from this condition on ``table``, newest first
    table: str = ""
    by_name_key: bool = False  # driven by the name_key index (SQLite is told so: see below)
    by_contact: bool = False  # driven by the contacts' name index, joined to their customer
    row: Clause | None = None  # ``where`` as a test of the customers table's own row (no
    # ``c``: named by the table), for lists that test the rows they read, where it is cheaper


def upper_bound(prefix: str) -> str:
    """The smallest string above every string starting with ``prefix``."""
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)


def is_long_enough(folded: str) -> bool:
    """Two characters, or one Chinese character."""
    return len(folded) >= 2 or bool(_CJK.fullmatch(folded))


@dataclass(frozen=True)
class NameQuery:
    text: str  # as typed, trimmed
    folded: str
    core: str

    @classmethod
    def of(cls, text: str) -> NameQuery:
        folded = fold(text)
        return cls(text.strip(), folded, normalize_company_name(folded) if folded else "")

    @property
    def is_single(self) -> bool:
        return len(self.folded) == 1

    @property
    def pinyin(self) -> str | None:
        return self.folded if is_pinyin_query(self.folded) and len(self.folded) >= 2 else None

    def tiers(self) -> list[Tier]:
        return [Tier.EXACT, Tier.CONTAINS] if self.is_single else list(Tier)

    # --- row conditions -----------------------------------------------------------------

    def member(self, tier: Tier) -> Clause:
        """Whether ``c`` matches at ``tier`` (exact or prefix), as one row test."""
        key = "COALESCE(c.name_key, '')"
        if tier is Tier.EXACT:
            parts = [Clause(f"{key} = %s", [self.core])]
            if self.pinyin:
                parts.append(Clause(f"{key} IN ({_pinyin_cores(exact=True)})", [self.pinyin] * 2))
            if not self.is_single:
                parts.append(Clause(f"c.id IN ({_contacts(exact=True)})", [self.text]))
        else:
            parts = [Clause(f"({key} >= %s AND {key} < %s)", _range(self.core))]
            if self.pinyin:
                parts.append(
                    Clause(f"{key} IN ({_pinyin_cores(exact=False)})", _range(self.pinyin) * 2)
                )
            parts.append(Clause(f"c.id IN ({_contacts(exact=False)})", _range(self.text)))
        return _any(parts)

    def sources(self, tier: Tier) -> list[Source]:
        """The indexed statements that together give the rows of ``tier``."""
        if tier is Tier.EXACT:
            found = [Source(Clause("c.name_key = %s", [self.core]), by_name_key=True)]
            if self.pinyin:
                sql = f"c.name_key IN ({_pinyin_cores(exact=True)})"
                found.append(Source(Clause(sql, [self.pinyin] * 2), by_name_key=True))
            if not self.is_single:
                found.append(Source(Clause("ct.name = %s", [self.text]), by_contact=True))
            return found
        if tier is Tier.PREFIX:
            sql = "c.name_key >= %s AND c.name_key < %s"
            found = [Source(Clause(sql, _range(self.core)), by_name_key=True)]
            if self.pinyin and (cores := self.listed_prefix_cores) is not None:
                found.append(Source(Clause("c.name_key = ANY(%s)", [cores]), by_name_key=True))
            elif self.pinyin:
                sql = f"c.name_key IN ({_pinyin_cores(exact=False)})"
                found.append(Source(Clause(sql, _range(self.pinyin) * 2), by_name_key=True))
            sql = "ct.name >= %s AND ct.name < %s"
            return [*found, Source(Clause(sql, _range(self.text)), by_contact=True)]
        return self._containing()

    @cached_property
    def listed_prefix_cores(self) -> list[str] | None:
        """On PostgreSQL, the core names whose pinyin or initials start with the Latin query,
        read once, when there are at most ``LISTED_CORES``: the prefix tier then reads their
        customers on the name index. Given the pinyin table as a subquery, the planner walked
        pooled customers newest first looking each one's core up (45,000 rows to find the 21
        of ``hw`` at 1M customers: 345 ms; 18 ms from its 946 cores). More cores (``zh``):
        ``None``, the subquery, whose walk then meets matches early."""
        if connection.vendor != "postgresql" or not self.pinyin:
            return None
        with connection.cursor() as cursor:
            cursor.execute(
                f"{_pinyin_cores(exact=False)} LIMIT %s",
                [*_range(self.pinyin) * 2, LISTED_CORES + 1],
            )
            cores = [row[0] for row in cursor.fetchall()]
        return cores if len(cores) <= LISTED_CORES else None

    def _containing(self) -> list[Source]:
        if len(self.folded) < MIN_CONTAINS_LENGTH:
            pair = _NOT_WORD.sub("", self.folded)
            return [_pair_source(pair)] if pair else []
        variants = [self.core] if len(self.core) >= MIN_CONTAINS_LENGTH else []
        variants = variants or list(dict.fromkeys([self.folded, self.text]))
        return [_trigram_source(variant) for variant in variants]


def _range(prefix: str) -> list[Any]:
    return [prefix, upper_bound(prefix)]


def _any(parts: list[Clause]) -> Clause:
    if not parts:
        return Clause("1 = 0")
    return Clause(
        "(" + " OR ".join(part.sql for part in parts) + ")",
        [param for part in parts for param in part.params],
    )


def _pinyin_cores(*, exact: bool) -> str:
    if exact:
        return f"SELECT core FROM {PINYIN_TABLE} WHERE pinyin = %s OR initials = %s"
    return (
        f"SELECT core FROM {PINYIN_TABLE} "
        "WHERE (pinyin >= %s AND pinyin < %s) OR (initials >= %s AND initials < %s)"
    )


def _contacts(*, exact: bool) -> str:
    condition = "name = %s" if exact else "name >= %s AND name < %s"
    return f"SELECT customer_id FROM {CONTACT_TABLE} WHERE {condition}"


def _pair_source(pair: str) -> Source:
    """Names containing a 1- or 2-character text (``customers.fts`` index 2)."""
    if connection.vendor == "sqlite":
        phrase = '"' + pair.replace('"', '""') + '"' + ("*" if len(pair) == 1 else "")
        return Source(
            Clause("1 = 1"), Clause(f"{GRAMS_TABLE} MATCH %s", [phrase]), table=GRAMS_TABLE
        )
    if connection.vendor == "postgresql":
        # A name has the pair exactly when its lowered text holds it (the pairs are the
        # lowered 1- and 2-character pieces of it). The index answers the array test; a walk
        # of rows newest first, or a row at hand (``row``), tests the text first: computing
        # every pair of a name costs ~15 µs a row, ``strpos`` well under one.
        lowered = pair.lower()
        held = Clause(f'strpos(lower("{TABLE}"."name"), %s) > 0', [lowered])
        name = f"{NAMES_TABLE}.name"
        indexed = Clause(
            f"{GRAMS_FUNCTION}({name}) @> ARRAY[%s]::text[] AND strpos(lower({name}), %s) > 0",
            [lowered, lowered],
        )
        return Source(Clause("1 = 1"), indexed, table=NAMES_TABLE, row=held)
    return Source(Clause("LOWER(c.name) LIKE %s ESCAPE '\\'", [like_pattern(pair.lower())]))


def _trigram_source(text: str) -> Source:
    """Names containing a text of 3 characters or more (``customers.fts`` index 1)."""
    if connection.vendor == "sqlite":
        phrase = '"' + text.replace('"', '""') + '"'
        return Source(Clause("1 = 1"), Clause(f"{FTS_TABLE} MATCH %s", [phrase]), table=FTS_TABLE)
    if connection.vendor == "postgresql":
        pattern = like_pattern(text)
        held = Clause(f'"{TABLE}"."name" ILIKE %s', [pattern])  # the row at hand: no index
        indexed = Clause(f"{NAMES_TABLE}.name ILIKE %s", [pattern])
        return Source(Clause("1 = 1"), indexed, table=NAMES_TABLE, row=held)
    return Source(Clause("LOWER(c.name) LIKE %s ESCAPE '\\'", [like_pattern(text.lower())]))


def like_pattern(text: str) -> str:
    return "%" + re.sub(r"([\\%_])", r"\\\1", text) + "%"


NAME_KEY_INDEX = "customer_name_key"


def customers_from(source: Source) -> str:
    """The ``FROM`` of a source on the customers table. SQLite, without statistics, would
    rather walk the whole table newest first (the ``ORDER BY id DESC LIMIT``) than read the
    few rows the ``name_key`` index holds for the key: it is told which index to use; and a
    contact's name drives the join to its customer (``CROSS JOIN`` keeps that order)."""
    if source.by_contact:
        return f"{CONTACT_TABLE} ct CROSS JOIN {TABLE} c"
    if source.by_name_key and connection.vendor == "sqlite":
        return f"{TABLE} c INDEXED BY {NAME_KEY_INDEX}"
    return f"{TABLE} c"


def source_ids_sql(source: Source) -> Clause:
    """The ids a source gives, as a subquery (for filters that keep their own order)."""
    if source.fts is not None:
        sql = f"SELECT rowid FROM {source.table} WHERE {source.fts.sql}"
        return Clause(sql, source.fts.params)
    return Clause(
        f"SELECT c.id FROM {customers_from(source)} WHERE {joined(source)}", source.where.params
    )


def joined(source: Source) -> str:
    """The source's condition, with the join to the contact's customer when it has one."""
    return (
        f"c.id = ct.customer_id AND {source.where.sql}" if source.by_contact else source.where.sql
    )
