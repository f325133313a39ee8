"""The owner's follow-up writes its activity in one ``INSERT … RETURNING id`` (on PostgreSQL the
sequence read and ``COPY`` it replaces were two round trips): the row is the one the full path
(``activity.save``) writes for the same follow-up, and the answer is that row."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from highseas.accounts.models import Role
from highseas.customers.models import Activity, Customer
from highseas.pools import followups, ownership

pytestmark = pytest.mark.django_db

FIELDS = ("kind", "occurred_at", "note", "outcome", "next_contact_at")


def _row(activity_id: int) -> dict[str, Any]:
    return Activity.objects.filter(pk=activity_id).values(*FIELDS, "customer_id").get()


def test_the_owner_s_activity_row_is_the_full_path_s_row(
    org: dict[str, Any], make_customer: Callable[..., Customer]
) -> None:
    rep, manager = org["rep_a"], org["east_manager"]
    assert manager.role == Role.MANAGER
    fast_customer, full_customer = (
        make_customer(org["admin"], pool=org["east_pool"]) for _ in "ab"
    )
    for customer in (fast_customer, full_customer):
        ownership.claim(rep, customer.pk)
    when = timezone.now() - timedelta(hours=1)
    given = {
        "kind": "visit",
        "occurred_at": when,
        "note": "面谈 ✓",
        "outcome": "有意向",
        "next_contact_at": when + timedelta(days=3),
    }
    before = timezone.now()
    with CaptureQueriesContext(connection) as queries:
        fast = followups.log_activity(rep, fast_customer.pk, **given)
    full = followups.log_activity(manager, full_customer.pk, **given)  # not the owner: full path
    after = timezone.now()
    inserts = [q["sql"] for q in queries.captured_queries if q["sql"].startswith("INSERT")]
    assert len(inserts) == 1 and "RETURNING" in inserts[0], inserts
    assert not [q for q in queries.captured_queries if "nextval" in q["sql"]]
    fast_row, full_row = _row(fast.pk), _row(full.pk)
    assert fast_row == {**full_row, "customer_id": fast_customer.pk}
    assert fast_row == {**given, "customer_id": fast_customer.pk}
    stored = Activity.objects.get(pk=fast.pk)
    assert (stored.author_id, full.author_id) == (rep.pk, manager.pk)
    assert before <= stored.created_at <= after
    assert (fast.pk, fast.created_at, fast._state.adding) == (stored.pk, stored.created_at, False)


def test_a_follow_up_of_a_pooled_customer_writes_no_activity(
    org: dict[str, Any], make_customer: Callable[..., Customer]
) -> None:
    """Nobody owns it: the fast path stands aside before writing, and the full path refuses."""
    customer = make_customer(org["admin"], pool=org["east_pool"])
    with pytest.raises(Exception) as refused:
        followups.log_activity(org["rep_a"], customer.pk, kind="call")
    assert getattr(refused.value, "code", None) is not None
    assert not Activity.objects.filter(customer=customer).exists()
