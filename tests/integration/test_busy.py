"""A write that lost to a lock is answered ``busy`` (503, ``Retry-After``), rolled back whole,
by the API and by the web page's buttons; sent again, it passes (``config.contention``)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from django.db import IntegrityError, OperationalError, connection, connections, transaction
from django.test import Client

from highseas.config.contention import busy_error
from highseas.config.sqlite.base import GATE
from highseas.customers.models import Customer
from highseas.engine.errors import ErrorCode
from highseas.pools.models import OwnershipEvent

pytestmark = pytest.mark.django_db(transaction=True)


@contextmanager
def _write_lock_held_elsewhere(customer_id: int) -> Iterator[None]:
    """While the block runs, another writer holds what a claim of the customer needs, and this
    thread's connection gives up waiting for it after 200 ms: on SQLite the process's write
    gate, with the connection's timeout; on PostgreSQL the customer's row, locked by another
    connection, with ``lock_timeout``."""
    if connection.vendor == "sqlite":
        options = connection.settings_dict["OPTIONS"]
        connection.settings_dict["OPTIONS"] = {**options, "timeout": 0.2}
        assert GATE.acquire(5.0)
        try:
            yield
        finally:
            GATE.release()
            connection.settings_dict["OPTIONS"] = options
        return
    locked, done = threading.Event(), threading.Event()

    def hold() -> None:
        try:
            with transaction.atomic():
                Customer.objects.select_for_update().get(pk=customer_id)
                locked.set()
                done.wait(10)
        finally:
            connections.close_all()

    holder = threading.Thread(target=hold)
    holder.start()
    assert locked.wait(10)
    with connection.cursor() as cursor:
        cursor.execute("SET lock_timeout = '200ms'")
    try:
        yield
    finally:
        done.set()
        holder.join(10)
        with connection.cursor() as cursor:
            cursor.execute("RESET lock_timeout")


def _unchanged(customer: Customer, events: int) -> None:
    customer.refresh_from_db()
    assert customer.owner_id is None and customer.status == "pooled"
    assert OwnershipEvent.objects.count() == events


def test_an_api_claim_that_loses_to_a_lock_is_answered_busy_and_changes_nothing(
    org: dict[str, Any], make_customer: Callable[..., Customer], api: Callable[..., Any]
) -> None:
    customer = make_customer(org["admin"], pool=org["east_pool"])
    client = api(org["rep_a"])
    assert client.get("/api/v1/me/").status_code == 200  # the token's first use is written now
    events = OwnershipEvent.objects.count()
    with _write_lock_held_elsewhere(customer.pk):
        response = client.post(f"/api/v1/customers/{customer.pk}/claim/")
    assert response.status_code == 503, response.content
    body = response.json()
    assert body["code"] == "busy" and body["retry_after_seconds"] == 1
    assert response["Retry-After"] == "1"
    _unchanged(customer, events)
    again = client.post(f"/api/v1/customers/{customer.pk}/claim/")
    assert again.status_code == 200, again.content
    customer.refresh_from_db()
    assert customer.owner_id == org["rep_a"].pk


def test_a_page_s_claim_button_that_loses_to_a_lock_shows_busy_and_changes_nothing(
    org: dict[str, Any], make_customer: Callable[..., Customer]
) -> None:
    customer = make_customer(org["admin"], pool=org["east_pool"])
    client = Client()
    client.force_login(org["rep_a"])
    events = OwnershipEvent.objects.count()
    claim = f"/customers/{customer.pk}/claim/"
    with _write_lock_held_elsewhere(customer.pk):
        response = client.post(claim, HTTP_X_HIGHSEAS_ASYNC="1")
    assert response.status_code == 503, response.content
    body = response.json()
    assert body["ok"] is False and body["code"] == "busy"
    assert body["message"] == "系统繁忙，这次操作没有完成，请稍后重试。"  # Chinese by default
    assert response["Retry-After"] == "1"
    _unchanged(customer, events)
    assert client.post(claim, HTTP_X_HIGHSEAS_ASYNC="1").json()["ok"] is True


class _DriverError(Exception):
    def __init__(self, sqlstate: str) -> None:
        super().__init__(sqlstate)
        self.sqlstate = sqlstate


def _caused_by(error: Exception, cause: Exception) -> Exception:
    error.__cause__ = cause
    return error


@pytest.mark.parametrize(
    ("error", "busy"),
    [
        (OperationalError("database is locked"), True),
        (_caused_by(OperationalError("deadlock detected"), _DriverError("40P01")), True),
        (_caused_by(OperationalError("lock timeout"), _DriverError("55P03")), True),
        (_caused_by(OperationalError("could not serialize"), _DriverError("40001")), True),
        (_caused_by(OperationalError("connection refused"), _DriverError("08001")), False),
        (IntegrityError("UNIQUE constraint failed"), False),
        (OperationalError("no such table: customers_customer"), False),
        (OperationalError("database table is locked"), False),
        (ValueError("database is locked"), False),
    ],
)
def test_only_an_error_a_lock_caused_is_busy(error: Exception, busy: bool) -> None:
    answer = busy_error(error)
    assert (answer is not None and answer.code is ErrorCode.BUSY) is busy
