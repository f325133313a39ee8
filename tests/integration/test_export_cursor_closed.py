"""SQLite connections kept between requests (``CONN_MAX_AGE``): a streamed export whose client
goes away mid-file must not leave its open read behind on the thread's connection, where the
next request, whoever's it is, would read an old snapshot of the database and could not
write ("database is locked")."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from highseas.accounts.tokens import issue_token
from highseas.config.wsgi import application
from highseas.customers.models import Activity, Customer
from highseas.pools import ownership
from tests.wsgi import environ

pytestmark = pytest.mark.django_db(transaction=True)


def left_mid_stream(path: str, token: str) -> None:
    """A download the client leaves after its first rows, as a WSGI server handles it: the
    response is closed (request_finished) with the rest of the file unread."""
    request = environ("GET", path, token)
    status: list[str] = []
    answer = application(request, lambda line, headers, exc_info=None: status.append(line))
    assert status[0].startswith("200")
    chunks = iter(answer)
    next(chunks)  # the header
    next(chunks)  # the first rows: the follow-ups' cursor is still reading
    answer.close()  # type: ignore[attr-defined]  # the client went away


def test_an_export_left_mid_stream_leaves_no_open_read_on_the_kept_connection(
    org: dict[str, Any], make_customer: Any
) -> None:
    if connection.vendor != "sqlite":
        pytest.skip("a kept connection's open read is SQLite's snapshot")
    customer = make_customer(org["rep_a"], owner=org["rep_a"], pool=org["east_pool"])
    pooled = make_customer(org["admin"], pool=org["east_pool"])
    now = timezone.now()
    Activity.objects.bulk_create(
        Activity(customer=customer, kind="call", occurred_at=now - timedelta(minutes=i))
        for i in range(2500)
    )
    token = issue_token(org["rep_a"], device="tests", audited=False)[1]
    left_mid_stream("/api/v1/exports/activities/", token)

    def rename() -> None:  # another request's thread, committed meanwhile
        try:
            Customer.objects.filter(pk=customer.pk).update(name="改名后的客户有限公司")
        finally:
            connection.close()

    other = threading.Thread(target=rename)
    other.start()
    other.join(timeout=30)
    # the next request on this thread reads the database as it is now
    ownership.claim(org["rep_b"], pooled.pk)  # and writes: "database is locked" on the old one
    seen = Customer.objects.filter(pk=customer.pk).values_list("name", flat=True)[0]
    assert seen == "改名后的客户有限公司", f"an old snapshot: {seen}"
