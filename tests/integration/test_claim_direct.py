"""The claim's statements on SQLite's own cursor (``accounts.driver``) write and answer exactly
what they write and answer through Django's cursor, and the claimed customer's fields converted
on first read (``raw_rows.lazy_instance``) are the ones a fresh read gives."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.db import IntegrityError, connection, connections, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from highseas.accounts import driver, raw_rows
from highseas.customers.models import Customer
from highseas.pools import ownership
from highseas.pools.models import OwnershipEvent

pytestmark = pytest.mark.django_db(transaction=True)

LEDGER = ("kind", "from_status", "from_owner_id", "from_pool_id", "to_status", "to_owner_id")
LEDGER_REST = ("to_pool_id", "actor_id", "actor_label", "reason", "reason_code", "policy_ref")


def _direct_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every statement run on the driver's cursor from now on."""
    seen: list[str] = []
    converted = driver._converted

    def spy(sql: str, names: tuple[str, ...] | None) -> str:
        seen.append(sql)
        return converted(sql, names)

    monkeypatch.setattr(driver, "_converted", spy)
    return seen


def _state(customer_id: int) -> tuple[Any, ...]:
    row = Customer.objects.values_list(
        "status", "owner_id", "pool_id", "owned_since", "recycle_due_at", "warn_at"
    ).get(pk=customer_id)
    event = OwnershipEvent.objects.filter(customer_id=customer_id).latest("id")
    return (*row, *(getattr(event, name) for name in (*LEDGER, *LEDGER_REST, "at")))


def test_the_direct_claim_writes_what_the_claim_through_django_writes(
    org: dict[str, Any], make_customer: Callable[..., Customer], monkeypatch: pytest.MonkeyPatch
) -> None:
    logged, direct = (make_customer(org["admin"], pool=org["east_pool"]) for _ in range(2))
    now = timezone.now() - timedelta(minutes=5)
    with CaptureQueriesContext(connection):  # queries logged: Django's cursor
        ownership.claim(org["rep_a"], logged.pk, now=now)
    seen = _direct_calls(monkeypatch)
    ownership.claim(org["rep_a"], direct.pk, now=now)
    assert len(seen) == 3 if connection.vendor == "sqlite" else not seen
    assert _state(direct.pk) == _state(logged.pk)
    assert _state(direct.pk)[:2] == ("owned", org["rep_a"].pk)


def test_a_direct_claim_refused_as_already_owned_leaves_no_trace(
    org: dict[str, Any], make_customer: Callable[..., Customer], monkeypatch: pytest.MonkeyPatch
) -> None:
    taken = make_customer(org["admin"], pool=org["east_pool"])
    ownership.claim(org["rep_b"], taken.pk)
    seen = _direct_calls(monkeypatch)
    events = OwnershipEvent.objects.count()
    with pytest.raises(Exception) as refused:
        ownership.claim(org["rep_a"], taken.pk)
    assert getattr(refused.value, "code", None) == "already_owned"
    assert OwnershipEvent.objects.count() == events
    assert Customer.objects.get(pk=taken.pk).owner_id == org["rep_b"].pk
    assert len(seen) == (1 if connection.vendor == "sqlite" else 0)  # the read, no write


def test_the_claimed_customer_reads_every_field_as_a_fresh_read_does(
    org: dict[str, Any], make_customer: Callable[..., Customer]
) -> None:
    customer = make_customer(
        org["admin"], pool=org["east_pool"], phone="13912345678", email="buyer@example.com"
    )
    claimed = ownership.claim(org["rep_a"], customer.pk).customer
    fresh = Customer.objects.get(pk=customer.pk)
    assert claimed.get_deferred_fields()  # times, JSON and contact fields wait for a read
    names = [field.attname for field in Customer._meta.concrete_fields]
    with CaptureQueriesContext(connection) as queries:
        values = [getattr(claimed, name) for name in names]
    assert not queries.captured_queries  # converted from the returned row, not read again
    assert values == [getattr(fresh, name) for name in names]
    assert claimed.phone == "13912345678" and claimed.email == "buyer@example.com"
    assert not claimed.get_deferred_fields()


def test_a_full_reload_of_the_claimed_customer_reads_the_database(
    org: dict[str, Any], make_customer: Callable[..., Customer]
) -> None:
    customer = make_customer(org["admin"], pool=org["east_pool"], phone="13912345678")
    claimed = ownership.claim(org["rep_a"], customer.pk).customer
    Customer.objects.filter(pk=customer.pk).update(phone="13800000000", name="Renamed")
    claimed.refresh_from_db()
    assert (claimed.name, claimed.phone) == ("Renamed", "13800000000")


def test_a_field_assigned_before_the_first_read_keeps_its_value(
    org: dict[str, Any], make_customer: Callable[..., Customer]
) -> None:
    customer = make_customer(org["admin"], pool=org["east_pool"], phone="13912345678")
    claimed = ownership.claim(org["rep_a"], customer.pk).customer
    claimed.tags = ["vip"]
    assert claimed.phone == "13912345678"
    assert claimed.tags == ["vip"]


def test_a_lazy_instance_of_a_row_without_conversions_defers_nothing(
    org: dict[str, Any], make_customer: Callable[..., Customer]
) -> None:
    customer = make_customer(org["admin"], pool=org["east_pool"])
    built = raw_rows.lazy_instance(Customer, ("id", "name"), (customer.pk, customer.name))
    assert raw_rows.UNCONVERTED not in built.__dict__
    assert (built.pk, built.name) == (customer.pk, customer.name)


@pytest.mark.skipif("connection.vendor != 'sqlite'")
def test_a_failing_direct_statement_raises_djangos_error_and_rolls_back(
    org: dict[str, Any], make_customer: Callable[..., Customer]
) -> None:
    customer = make_customer(org["admin"], pool=org["east_pool"])
    table = connection.ops.quote_name(Customer._meta.db_table)
    events = OwnershipEvent.objects.count()
    with pytest.raises(IntegrityError), transaction.atomic():
        assert driver._direct(connections["default"])
        driver.run(
            "INSERT INTO pools_ownershipevent (customer_id, kind) VALUES (%s, %s)",
            [customer.pk, "claimed"],
        )
        driver.run(f"UPDATE {table} SET name = NULL WHERE id = %s", [customer.pk])
    assert OwnershipEvent.objects.count() == events


@pytest.mark.skipif("connection.vendor != 'sqlite'")
def test_statements_go_through_djangos_cursor_when_queries_are_logged() -> None:
    with transaction.atomic():
        assert driver._direct(connections["default"])
        with CaptureQueriesContext(connection) as queries:
            assert not driver._direct(connections["default"])
            assert driver.fetch_one("SELECT %(a)s + %(b)s", {"a": 1, "b": 2}) == (3,)
    assert driver.fetch_one("SELECT %s * 2", [21]) == (42,)  # outside a transaction
    assert [q["sql"] for q in queries.captured_queries] == ["SELECT 1 + 2"]


@pytest.mark.skipif("connection.vendor != 'sqlite'")
def test_an_execute_wrapper_sees_every_direct_statement_and_keeps_it_direct(
    org: dict[str, Any], make_customer: Callable[..., Customer], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bench's statement counter wraps the driver's statements as Django's cursor would, so
    the path it counts is the one it times; a wrapper that refuses refuses them too."""
    customer = make_customer(org["admin"], pool=org["east_pool"])
    wrapped: list[tuple[str, Any]] = []

    def note(execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any) -> Any:
        wrapped.append((sql, context["connection"]))
        return execute(sql, params, many, context)

    seen = _direct_calls(monkeypatch)
    with connection.execute_wrapper(note):
        ownership.claim(org["rep_a"], customer.pk, now=timezone.now())
    assert len(seen) == 3  # on the driver's cursor, as without the wrapper
    assert set(seen) <= {sql for sql, _ in wrapped}  # and every one of them was seen
    assert all(db is connections["default"] for _, db in wrapped)
    assert _state(customer.pk)[:2] == ("owned", org["rep_a"].pk)

    def refuse(*_args: Any) -> Any:
        raise RuntimeError("no query here")

    with (
        transaction.atomic(),
        connection.execute_wrapper(refuse),
        pytest.raises(RuntimeError, match="no query here"),
    ):
        driver.fetch_one("SELECT %s", [1])
