"""A claim is five statements (lock, load, facts, compare-and-set, ledger), whatever the
size of the book."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from highseas.customers.models import Customer
from highseas.pools import ownership

pytestmark = pytest.mark.django_db


def test_a_claim_takes_five_statements(
    org: dict[str, Any], make_customer: Callable[..., Customer]
) -> None:
    first, second = (make_customer(org["admin"], pool=org["east_pool"]) for _ in range(2))
    ownership.claim(org["rep_a"], first.pk)  # warm the rep's profile and caches
    with CaptureQueriesContext(connection) as queries:
        ownership.claim(org["rep_a"], second.pk)
    statements = [
        q["sql"]
        for q in queries.captured_queries
        if not q["sql"].startswith(("SAVEPOINT", "RELEASE SAVEPOINT"))
    ]
    assert len(statements) <= 5, "\n".join(statements)
