"""``set_update.update_rows``: one compare-and-set ``UPDATE`` for rows with their own values.
On PostgreSQL the rows travel as one array per column, binary where the server binds the
parameters and as text behind a client-side binding cursor; both write the same values."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db import connection

from highseas.customers.models import Customer
from highseas.pools import set_update
from highseas.pools.set_update import update_rows

pytestmark = pytest.mark.django_db

DUE = datetime(2026, 12, 5, 1, 2, 3, 456789, tzinfo=UTC)


@pytest.mark.parametrize("binding", [True, False], ids=["server-side", "client-side"])
def test_rows_with_their_own_values_are_written_as_given(
    org: dict[str, Any],
    make_customer: Callable[..., Customer],
    monkeypatch: pytest.MonkeyPatch,
    binding: bool,
) -> None:
    options = {**connection.settings_dict["OPTIONS"], "server_side_binding": binding}
    monkeypatch.setitem(connection.settings_dict, "OPTIONS", options)
    monkeypatch.setattr(set_update, "ROWS_PER_ARRAYS", 2)  # two statements for three rows
    monkeypatch.setattr(set_update, "ROWS_PER_STATEMENT", 2)
    pool = org["east_pool"]
    made = [make_customer(org["admin"], pool=pool, name=f"客户{i}") for i in range(4)]
    rows = [(c.pk, f"改名{i}", DUE + timedelta(hours=i)) for i, c in enumerate(made[:3])]
    taken = made[2]
    Customer.objects.filter(pk=taken.pk).update(pool=org["south_pool"])  # fails the guard

    changed = update_rows(
        Customer, ["name", "recycle_due_at"], rows, guard=[("pool", "=", pool.pk)]
    )

    assert changed == 2
    found = {
        c.pk: (c.name, c.recycle_due_at)
        for c in Customer.objects.filter(pk__in=[c.pk for c in made])
    }
    assert found[made[0].pk] == ("改名0", DUE)
    assert found[made[1].pk] == ("改名1", DUE + timedelta(hours=1))
    assert found[taken.pk] == (taken.name, taken.recycle_due_at)  # the guard held it back
    assert found[made[3].pk] == (made[3].name, made[3].recycle_due_at)  # not in the rows
    if connection.vendor == "postgresql":
        assert set_update._array_mark() == ("%b" if binding else "%s")
