"""The ledger's, the customer's and the notification's single-column indexes that a composite
index leads with are gone (one index write fewer per ledger row, per ownership change and per
notification), and the look-ups they served still read an index."""

from __future__ import annotations

import pytest
from django.db import connection

pytestmark = pytest.mark.django_db

DROPPED = {
    "pools_ownershipevent": {"at", "customer_id", "from_owner_id", "to_owner_id"},
    "customers_customer": {"owner_id"},
    "notify_notification": {"recipient_id"},
}


def indexes(table: str) -> dict[str, list[str]]:
    with connection.cursor() as cursor:
        found = connection.introspection.get_constraints(cursor, table)
    return {
        name: info["columns"]
        for name, info in found.items()
        if info["index"] and not info["primary_key"]
    }


@pytest.mark.parametrize("table", sorted(DROPPED))
def test_no_single_column_index_on_a_column_a_composite_leads(table: str) -> None:
    found = indexes(table)
    singles = {columns[0] for columns in found.values() if len(columns) == 1}
    assert not singles & DROPPED[table]
    leading = {columns[0] for columns in found.values() if len(columns) > 1}
    assert DROPPED[table] <= leading


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's plan text")
@pytest.mark.parametrize(
    ("sql", "index"),
    [
        ("SELECT id FROM customers_customer WHERE owner_id = 1", "customer_owner_held"),
        ("SELECT id FROM pools_ownershipevent WHERE customer_id = 1", "ledger_customer_seq"),
        ("SELECT id FROM notify_notification WHERE recipient_id = 1", "notification_inbox"),
        ("SELECT id FROM pools_ownershipevent WHERE to_owner_id = 1", "ledger_claims_by_rep"),
        ("SELECT id FROM pools_ownershipevent WHERE from_owner_id = 1", "ledger_cooldown"),
        (
            "SELECT id FROM pools_ownershipevent WHERE at >= '2026-01-01'",
            "insights_ledger_day_counts",
        ),
    ],
)
def test_the_lookups_still_read_an_index(sql: str, index: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN QUERY PLAN {sql}")
        plan = " ".join(str(row[-1]) for row in cursor.fetchall())
    assert index in plan
