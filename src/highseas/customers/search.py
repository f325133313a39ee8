"""Public search (公共检索, SPEC §8): every customer, one interface on SQLite and PostgreSQL.

What the query text is taken for:

(The phone, e-mail and credit-code keys are blind indexes: ``customers.duplicates.lookup_values``.)

1. an e-mail (it has an ``@``) → the e-mail key, exactly;
2. a phone number (only digits and phone punctuation, and it normalizes to E.164) → the
   phone key, exactly;
3. a valid unified social credit code → the credit-code key, exactly;
4. otherwise a name, at least ``MIN_NAME_LENGTH`` characters once folded:
   a. names containing the query's core (or, when that is under 3 characters, the text
      itself), from 3 characters: SQLite's FTS5 trigram index (``MATCH``), PostgreSQL's
      pg_trgm GIN index (``ILIKE``) — see ``customers.fts``;
   b. names whose core (region and legal form stripped, ``engine.normalize``) starts with
      the query's core: a range on the ``name_key`` index. So 2-character queries work
      (华为 finds 华为技术有限公司), and 北京字节跳动 finds 字节跳动科技（北京）有限公司.

Every path excludes merged-away customers and applies the scope
(``HIGHSEAS_PUBLIC_SEARCH_SCOPE``: ``prospects`` leaves won customers out,
``prospects_and_won`` — the default — keeps them). Results come newest first, a page at a
time by keyset: the next page is the ids below the last one (``before``), so page 1 and page
10,000 cost the same.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import Q, QuerySet
from django.utils.translation import gettext as _

from highseas.customers.choices import CustomerStage
from highseas.customers.duplicates import live_customers, lookup_values
from highseas.customers.fts import FTS_TABLE, TABLE, ensure_search_index
from highseas.customers.models import Customer
from highseas.customers.public import public_rows
from highseas.engine.errors import ErrorCode, HighSeasError
from highseas.engine.normalize import (
    fold,
    normalize_company_name,
    normalize_credit_code,
    normalize_email,
    normalize_phone,
)

MIN_NAME_LENGTH = 2
MIN_CONTAINS_LENGTH = 3  # trigram indexes need three characters
PHONE_TEXT = re.compile(r"^[\d\s\-+()]+(?:(?:转|ext\.?|x|#)\s*\d+)?$")
SCOPES = ("prospects", "prospects_and_won")

NameIndex = Callable[[str, int | None, int, bool], list[int]]


@dataclass(frozen=True)
class SearchPage:
    rows: list[dict[str, Any]]  # public views (``customers.public``), newest first
    next_before: int | None


def prospects_only() -> bool:
    scope = getattr(settings, "HIGHSEAS_PUBLIC_SEARCH_SCOPE", "prospects_and_won")
    return scope == "prospects"


def in_scope() -> QuerySet[Customer]:
    customers = live_customers()
    return customers.exclude(stage=CustomerStage.WON) if prospects_only() else customers


def keyed_in_scope() -> QuerySet[Customer]:
    """For lookups on a duplicate key: merged-away customers have none, so the lookup needs
    no filter on them, and the prefix scan stays inside the ``name_key`` index."""
    customers = Customer.objects.all()
    return customers.exclude(stage=CustomerStage.WON) if prospects_only() else customers


def _sqlite_containing(text: str, before: int | None, limit: int, prospects: bool) -> list[int]:
    ensure_search_index(connection)
    phrase = '"' + text.replace('"', '""') + '"'
    sql = (
        f"SELECT c.id FROM {FTS_TABLE} JOIN {TABLE} c ON c.id = {FTS_TABLE}.rowid "
        f"WHERE {FTS_TABLE} MATCH %s AND {FTS_TABLE}.rowid < %s AND c.merged_into_id IS NULL"
        + (" AND c.stage <> %s" if prospects else "")
        + f" ORDER BY {FTS_TABLE}.rowid DESC LIMIT %s"
    )
    params: list[Any] = [phrase, before or 2**62]
    params += [CustomerStage.WON.value] if prospects else []
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, limit])
        return [row[0] for row in cursor.fetchall()]


def _like_pattern(text: str) -> str:
    return "%" + re.sub(r"([\\%_])", r"\\\1", text) + "%"


def _postgresql_containing(text: str, before: int | None, limit: int, prospects: bool) -> list[int]:
    sql = (
        f"SELECT id FROM {TABLE} WHERE name ILIKE %s AND id < %s AND merged_into_id IS NULL"
        + (" AND stage <> %s" if prospects else "")
        + " ORDER BY id DESC LIMIT %s"
    )
    params: list[Any] = [_like_pattern(text), before or 2**62]
    params += [CustomerStage.WON.value] if prospects else []
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, limit])
        return [row[0] for row in cursor.fetchall()]


def _portable_containing(text: str, before: int | None, limit: int, prospects: bool) -> list[int]:
    """Other databases: no index, the same answer."""
    customers = in_scope().filter(name__icontains=text)
    if before is not None:
        customers = customers.filter(pk__lt=before)
    return list(customers.order_by("-pk").values_list("pk", flat=True)[:limit])


def name_index() -> NameIndex:
    return {"sqlite": _sqlite_containing, "postgresql": _postgresql_containing}.get(
        connection.vendor, _portable_containing
    )


def _page_ids(customers: QuerySet[Customer], before: int | None, limit: int) -> list[int]:
    if before is not None:
        customers = customers.filter(pk__lt=before)
    return list(customers.order_by("-pk").values_list("pk", flat=True)[:limit])


def _core_prefix(core: str) -> Q:
    upper = core[:-1] + chr(ord(core[-1]) + 1)
    return Q(name_key__gte=core, name_key__lt=upper)


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


def matching_ids(text: str, *, before: int | None, limit: int) -> list[int]:
    """Up to ``limit`` ids below ``before``, newest first."""
    if (exact := exact_filter(text)) is not None:
        return _page_ids(keyed_in_scope().filter(exact), before, limit)
    folded = fold(text)
    if len(folded) < MIN_NAME_LENGTH:
        raise HighSeasError(
            ErrorCode.VALIDATION_ERROR,
            _("Type at least two characters of a name, or a phone, e-mail or credit code."),
            errors={"q": ["too short"]},
        )
    found: set[int] = set()
    core = normalize_company_name(folded)
    if core:
        found.update(_page_ids(keyed_in_scope().filter(_core_prefix(core)), before, limit))
    # Names containing the query's core: 上海华信科技有限公司 looks for 华信科技, which also
    # finds 华信科技（上海）有限公司, and spares the index the trigrams of 有限公司 that
    # every name has. A core too short for trigrams falls back to the text as typed.
    variants = {core} if len(core) >= MIN_CONTAINS_LENGTH else {text, folded}
    for variant in variants:
        if len(variant) >= MIN_CONTAINS_LENGTH:
            found.update(name_index()(variant, before, limit, prospects_only()))
    return sorted(found, reverse=True)[:limit]


def search(text: str, *, before: int | None = None, limit: int = 20) -> SearchPage:
    """One page of public views (basic fields and status; not the holder)."""
    ids = matching_ids(text.strip(), before=before, limit=limit + 1)
    found = public_rows(ids[:limit])
    page = [
        {name: value for name, value in found[customer_id].items() if name != "holder"}
        for customer_id in ids[:limit]
        if customer_id in found
    ]
    return SearchPage(page, ids[limit - 1] if len(ids) > limit else None)
