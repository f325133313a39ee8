"""PostgreSQL's ``highseas_name_grams`` (the names table's pairs index) is a PL/pgSQL loop that
gives every name the same set of grams as the earlier SQL query (migration 0022), so the index
and every search through it are unchanged."""

from __future__ import annotations

import importlib

import pytest
from django.db import connection
from hypothesis import given, settings
from hypothesis import strategies as st

from highseas.customers.fts import GRAMS_FUNCTION

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's grams function"),
]

EARLIER = "highseas_name_grams_earlier"
NAMES = [
    "",
    "A",
    "ab",
    "华为",
    "杭州科技有限公司",
    "ABC Trading abc",
    "İstanbul ŞİRKETİ",
    "STRASSE straße",
    "ǅemal Ǆ ǆ",
    "café café",  # a precomposed é and an e with a combining accent
    "🙂🙂x",
    "  two  spaces ",
    "北京北京北京",
]
# every character PostgreSQL takes in a name (no NUL, no lone surrogate)
NAME_TEXT = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=40
)


def migration() -> object:
    return importlib.import_module("highseas.customers.migrations.0022_name_grams_loop")


def earlier_function() -> None:
    sql = str(migration().EARLIER_GRAMS).replace(  # type: ignore[attr-defined]
        f"FUNCTION {GRAMS_FUNCTION}(", f"FUNCTION {EARLIER}("
    )
    with connection.cursor() as cursor:
        cursor.execute(sql)


def differing(names: list[str]) -> list[tuple[str, list[str], list[str]]]:
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT name, {GRAMS_FUNCTION}(name), {EARLIER}(name) FROM unnest(%s::text[]) AS name "
            f"WHERE NOT ({GRAMS_FUNCTION}(name) @> {EARLIER}(name) "
            f"AND {GRAMS_FUNCTION}(name) <@ {EARLIER}(name))",
            [names],
        )
        return cursor.fetchall()


def test_the_function_in_the_database_is_the_loop() -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT l.lanname FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang "
            "WHERE p.proname = %s",
            [GRAMS_FUNCTION],
        )
        assert cursor.fetchall() == [("plpgsql",)]


def test_the_named_cases_have_the_earlier_sets() -> None:
    earlier_function()
    assert differing(NAMES) == []
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {GRAMS_FUNCTION}(NULL), {EARLIER}(NULL)")
        assert cursor.fetchone() == (None, None)
        cursor.execute(f"SELECT {GRAMS_FUNCTION}(''), {EARLIER}('')")
        assert cursor.fetchone() == ([], [])


@settings(max_examples=60, deadline=None)
@given(st.lists(NAME_TEXT, min_size=1, max_size=30))
def test_any_names_have_the_earlier_sets(names: list[str]) -> None:
    earlier_function()
    assert differing(names) == []


def test_a_different_set_is_noticed() -> None:
    """The comparison itself: a function that drops the pairs differs on any two letters."""
    earlier_function()
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE OR REPLACE FUNCTION {GRAMS_FUNCTION}(name text) RETURNS text[] "
            "LANGUAGE sql IMMUTABLE STRICT AS "
            "$$ SELECT array_agg(lower(substr(name, i, 1))) "
            "FROM generate_series(1, char_length(name)) AS i $$"
        )
    assert [row[0] for row in differing(["华为", "A"])] == ["华为"]
