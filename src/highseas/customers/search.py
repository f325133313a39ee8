"""Search (公共检索, SPEC §8): every customer, one service on SQLite and PostgreSQL.

Entry point: ``search(text, *, before=None, limit=20) -> SearchPage`` (public views, the
viewer-independent part; ``pools.lookups.public_search`` adds the viewer's lookup limit).
Lists that filter by a name use the same match: as a queryset filter (``name_filter(text)``,
my customers), or read source by source for a keyset page (``listed_ids``: the pool page, the
console's and the API's customer lists, through ``pools.listing.listed_customers``).

What the query text is taken for:

1. an e-mail (it has an ``@``) → the e-mail key, exactly;
2. a phone number (only digits and phone punctuation, and it normalizes to E.164) → the
   phone key, exactly;
3. a valid unified social credit code → the credit-code key, exactly;
   (these keys are blind indexes: ``customers.duplicates.lookup_values``; newest first)
4. otherwise a name, two characters at least (one Chinese character will do), matched in
   tiers — exact, prefix, contains (``customers.matching``): full names, brands without
   region and legal form (华为, 字节跳动), two characters anywhere in a name (科技, 杭州),
   pinyin and initials (``huawei``, ``hw``), contact names.

Ranking: tier (exact > prefix > contains), then status (in the pool first — a rep can act on
those —, then owned, then frozen), then newest first. Every (tier, status) group is read by
its own indexed statements, newest first, a page at a time by keyset: the cursor
(``before``) is ``group × GROUP_SPAN + id`` of the page's last row, so page 1 and page
10,000 cost the same. A plain id (below ``GROUP_SPAN``) reads as a cursor of the first group.

Every path excludes merged-away customers and applies the scope
(``HIGHSEAS_PUBLIC_SEARCH_SCOPE``: ``prospects`` leaves won customers out,
``prospects_and_won`` — the default — keeps them).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import EmptyResultSet
from django.db import connection
from django.db.models import BooleanField, Q, QuerySet
from django.db.models.expressions import RawSQL
from django.utils.translation import gettext as _

from highseas.customers.choices import CustomerStage, CustomerStatus
from highseas.customers.duplicates import lookup_values
from highseas.customers.fts import TABLE, ensure_search_index, fill_pinyin
from highseas.customers.matching import (
    Clause,
    NameQuery,
    Source,
    Tier,
    customers_from,
    is_long_enough,
    joined,
    source_ids_sql,
)
from highseas.customers.models import Customer
from highseas.customers.public import public_rows, search_scope
from highseas.engine.errors import ErrorCode, HighSeasError
from highseas.engine.normalize import (
    fold,
    normalize_credit_code,
    normalize_email,
    normalize_phone,
)

PHONE_TEXT = re.compile(r"^[\d\s\-+()]+(?:(?:转|ext\.?|x|#)\s*\d+)?$")
SCOPES = ("prospects", "prospects_and_won")
STATUS_ORDER = (CustomerStatus.POOLED, CustomerStatus.OWNED, CustomerStatus.FROZEN)
GROUP_SPAN = 10**12  # a cursor is group × GROUP_SPAN + id
PENDING_PINYIN = 2000  # cores whose pinyin a search computes before it reads (normally few)


@dataclass(frozen=True)
class SearchPage:
    rows: list[dict[str, Any]]  # public views (``customers.public``), best first
    next_before: int | None  # the cursor of the next page


def prospects_only() -> bool:
    """Whether won customers are left out: the scope an admin saved on the public search
    settings page (``customers.public.search_scope``; the deployment setting is its default)."""
    return search_scope() == "prospects"


def keyed_in_scope() -> QuerySet[Customer]:
    """For lookups on a duplicate key: merged-away customers have none, so the lookup needs
    no filter on them."""
    customers = Customer.objects.all()
    return customers.exclude(stage=CustomerStage.WON) if prospects_only() else customers


def exact_filter(text: str) -> Q | None:
    """Rules 1–3: the key the text is, if it is one."""
    if "@" in text:
        email = normalize_email(text)
        return Q(email_key__in=lookup_values("email", email)) if email else Q(pk__in=[])
    if PHONE_TEXT.match(fold(text)) and (phone := normalize_phone(text)):
        return Q(phone_key__in=lookup_values("phone", phone))
    if credit_code := normalize_credit_code(text):
        return Q(credit_key__in=lookup_values("credit_code", credit_code))
    return None


def name_query(text: str) -> NameQuery:
    """Rule 4's query, refused when too short; indexes made ready for it."""
    query = NameQuery.of(text)
    if not is_long_enough(query.folded):
        raise HighSeasError(
            ErrorCode.VALIDATION_ERROR,
            _("Type at least two characters of a name, or a phone, e-mail or credit code."),
            errors={"q": ["too short"]},
        )
    ensure_search_index(connection)
    if query.pinyin:
        fill_pinyin(connection, limit=PENDING_PINYIN)
    return query


# --- ranked pages ---------------------------------------------------------------------------

GROUPS = [(tier, status) for tier in Tier for status in STATUS_ORDER]


def _scope(won_out: bool, status: str) -> Clause:
    """Rows public search lists in one status (``won_out``: ``prospects_only()``, read once
    per search: it is a read of the settings)."""
    sql = "c.merged_into_id IS NULL AND c.status = %s"
    if won_out:
        return Clause(sql + " AND c.stage <> %s", [status, CustomerStage.WON.value])
    return Clause(sql, [status])


def _source_ids(
    source: Source, stronger: Clause, scope: Clause, bound: int, limit: int
) -> list[int]:
    where = Clause(f"{scope.sql} AND NOT {stronger.sql}", [*scope.params, *stronger.params])
    return walk_source(source, where, below=bound, above=None, limit=limit)


def walk_source(
    source: Source, where: Clause, *, below: int | None, above: int | None, limit: int
) -> list[int]:
    """Up to ``limit`` ids the source gives that meet ``where`` (a condition on ``c``), read
    from the source's own index newest first below ``below`` — or, given ``above``, oldest
    first above it."""
    op, bound, order = ("<", below, "DESC") if above is None else (">", above, "ASC")
    bound = GROUP_SPAN if bound is None else bound
    if source.fts is not None:
        table = source.table
        sql = (
            f"SELECT c.id FROM {table} JOIN {TABLE} c ON c.id = {table}.rowid "
            f"WHERE {source.fts.sql} AND {table}.rowid {op} %s AND {joined(source)} "
            f"AND c.id {op} %s AND {where.sql} ORDER BY {table}.rowid {order} LIMIT %s"
        )
        values = [*source.fts.params, bound, *source.where.params, bound, *where.params]
    else:
        distinct = "DISTINCT " if source.by_contact else ""  # a customer has many contacts
        sql = (
            f"SELECT {distinct}c.id FROM {customers_from(source)} WHERE {joined(source)} "
            f"AND c.id {op} %s AND {where.sql} ORDER BY c.id {order} LIMIT %s"
        )
        values = [*source.where.params, bound, *where.params]
    with connection.cursor() as cursor:
        cursor.execute(sql, [*values, limit])
        return [row[0] for row in cursor.fetchall()]


def _stronger(query: NameQuery, tier: Tier) -> Clause:
    """Rows of the tiers above ``tier`` (each tier's row test includes the ones above)."""
    if tier is Tier.EXACT:
        return Clause("(1 = 0)")
    above = Tier.EXACT if tier is Tier.PREFIX or query.is_single else Tier.PREFIX
    return query.member(above)


def group_ids(
    query: NameQuery, group: int, bound: int, limit: int, *, won_out: bool | None = None
) -> list[int]:
    """Up to ``limit`` ids of one (tier, status) group below ``bound``, newest first."""
    tier, status = GROUPS[group]
    if tier not in query.tiers():
        return []
    stronger = _stronger(query, tier)
    scope = _scope(prospects_only() if won_out is None else won_out, status.value)
    found: set[int] = set()
    for source in query.sources(tier):
        found.update(_source_ids(source, stronger, scope, bound, limit))
    return sorted(found, reverse=True)[:limit]


def ranked_ids(query: NameQuery, *, before: int | None, limit: int) -> list[tuple[int, int]]:
    """Up to ``limit`` (group, id) pairs after the cursor, in rank order."""
    first, bound = divmod(before, GROUP_SPAN) if before else (0, GROUP_SPAN)
    won_out = prospects_only()
    found: list[tuple[int, int]] = []
    for group in range(first, len(GROUPS)):
        ids = group_ids(
            query,
            group,
            bound if group == first else GROUP_SPAN,
            limit - len(found),
            won_out=won_out,
        )
        found += [(group, customer_id) for customer_id in ids]
        if len(found) >= limit:
            break
    return found


def _exact_ids(exact: Q, before: int | None, limit: int) -> list[tuple[int, int]]:
    customers = keyed_in_scope().filter(exact)
    if before is not None:
        customers = customers.filter(pk__lt=before % GROUP_SPAN)
    return [(0, pk) for pk in customers.order_by("-pk").values_list("pk", flat=True)[:limit]]


def matching_ids(text: str, *, before: int | None, limit: int) -> list[tuple[int, int]]:
    """Up to ``limit`` (group, id) pairs after the cursor ``before``, best first."""
    if (exact := exact_filter(text)) is not None:
        return _exact_ids(exact, before, limit)
    return ranked_ids(name_query(text), before=before, limit=limit)


def search(text: str, *, before: int | None = None, limit: int = 20) -> SearchPage:
    """One page of public views (basic fields and status; not the holder), best first."""
    ranked = matching_ids(text.strip(), before=before, limit=limit + 1)
    ids = [customer_id for _, customer_id in ranked]
    found = public_rows(ids[:limit])
    page = [
        {name: value for name, value in found[customer_id].items() if name != "holder"}
        for customer_id in ids[:limit]
        if customer_id in found
    ]
    last_group, last_id = ranked[limit - 1] if len(ranked) > limit else (0, 0)
    return SearchPage(page, last_group * GROUP_SPAN + last_id if len(ranked) > limit else None)


# --- the same match as a filter ---------------------------------------------------------------


def name_filter(text: str) -> Q:
    """Customers whose name, pinyin or contact matches ``text`` (rule 4, every tier), as a
    filter for lists that keep their own order and scope; a text too short matches by its
    core name only (no refusal: a list's filter box is not a search)."""
    query = NameQuery.of(text)
    if not query.folded:
        return Q()
    if not is_long_enough(query.folded):
        return Q(name_key__startswith=query.core)
    ensure_search_index(connection)
    if query.pinyin:
        fill_pinyin(connection, limit=PENDING_PINYIN)
    match = Q()
    for tier in query.tiers():
        for source in query.sources(tier):
            ids = source_ids_sql(source)
            match |= Q(pk__in=RawSQL(ids.sql, ids.params))
    return match


def row_name_filter(text: str) -> Q | RawSQL:
    """``name_filter`` for a list of a few hundred rows at most (a rep's own customers): each
    row read is tested where it stands (``row_match``), instead of the sources' ids being
    read first, which for 科技 are hundreds of thousands."""
    query = NameQuery.of(text)
    if not query.folded or not is_long_enough(query.folded):
        return name_filter(text)
    return row_match(query)


def listed_ids(
    customers: QuerySet[Customer],
    text: str = "",
    *,
    below: int | None = None,
    above: int | None = None,
    limit: int,
    walk_primary_key: bool = False,
    few: bool = False,
) -> list[int]:
    """Up to ``limit`` ids of ``customers`` that ``name_filter(text)`` keeps (all of them for
    a blank text), newest first below ``below`` — or, given ``above``, oldest first above it.

    A name is read source by source, each from its own index newest first, every row checked
    against ``customers`` by primary key: a list filtered by 科技 reads as many rows as its
    page needs, never the hundreds of thousands of names that contain it (``pk IN (…)`` over
    the sources, which the planner turns into exactly that). Without a name,
    ``walk_primary_key`` reads ``customers`` along the primary key (on SQLite, no index is
    used: its sampled statistics make an index on a low-cardinality column look selective).
    ``few``: ``customers`` are a few hundred rows at most (one owner's), read on their own
    index with each row's name tested where it stands (``row_match``)."""
    query = NameQuery.of(text)
    if query.folded and not is_long_enough(query.folded):
        customers = customers.filter(name_filter(text))
    elif query.folded and few:
        customers = customers.filter(row_match(query))
    elif query.folded:
        return _matching_listed_ids(customers, query, below=below, above=above, limit=limit)
    if below is not None:
        customers = customers.filter(pk__lt=below)
    if above is not None:
        customers = customers.filter(pk__gt=above)
    ordered = customers.order_by("pk" if above is not None else "-pk")
    ids = ordered.values_list("pk", flat=True)[:limit]
    if not (walk_primary_key and connection.vendor == "sqlite"):
        return list(ids)
    try:
        sql, params = ids.query.sql_with_params()
    except EmptyResultSet:
        return []
    table = connection.ops.quote_name(TABLE)
    sql = sql.replace(f"FROM {table}", f"FROM {table} NOT INDEXED", 1)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [row[0] for row in cursor.fetchall()]


def _matching_listed_ids(
    customers: QuerySet[Customer],
    query: NameQuery,
    *,
    below: int | None,
    above: int | None,
    limit: int,
) -> list[int]:
    ensure_search_index(connection)
    if query.pinyin:
        fill_pinyin(connection, limit=PENDING_PINYIN)
    try:
        sql, params = customers.order_by().values("pk").query.sql_with_params()
    except EmptyResultSet:
        return []
    head, _, condition = sql.partition(" WHERE ")
    key = f"{connection.ops.quote_name(TABLE)}.{connection.ops.quote_name('id')}"
    condition = condition or "1 = 1"
    member = Clause(f"EXISTS ({head} WHERE ({condition}) AND {key} = c.id)", list(params))
    found: set[int] = set()
    for tier in query.tiers():
        for source in query.sources(tier):
            found.update(walk_source(source, member, below=below, above=above, limit=limit))
    return sorted(found, reverse=above is None)[:limit]


def row_match(query: NameQuery) -> RawSQL:
    """``name_filter``'s match as a test of the row at hand (each source asked whether it
    gives that row's id), for lists that read few rows: ``pk IN (…)`` would read every row the
    sources give first."""
    ensure_search_index(connection)
    if query.pinyin:
        fill_pinyin(connection, limit=PENDING_PINYIN)
    outer = f"{connection.ops.quote_name(TABLE)}.{connection.ops.quote_name('id')}"
    tests: list[str] = []
    params: list[Any] = []
    for tier in query.tiers():
        for source in query.sources(tier):
            if source.row is not None:
                tests.append(source.row.sql)
                params += source.row.params
            elif source.fts is not None:
                table = source.table
                tests.append(
                    f"EXISTS (SELECT 1 FROM {table} JOIN {TABLE} c ON c.id = {table}.rowid "
                    f"WHERE {source.fts.sql} AND {table}.rowid = {outer} AND {joined(source)})"
                )
                params += [*source.fts.params, *source.where.params]
            else:
                tests.append(
                    f"EXISTS (SELECT 1 FROM {customers_from(source)} "
                    f"WHERE {joined(source)} AND c.id = {outer})"
                )
                params += source.where.params
    return RawSQL(f"({' OR '.join(tests)})", params, output_field=BooleanField())
