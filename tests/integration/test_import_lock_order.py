"""An import's batch names its owners in file order and locks each as it creates their
customer (``creation._owner_within_cap``), in one transaction; every writer of several reps
locks them in id order (``facts.lock_reps``, ``assign_many``). On PostgreSQL a file naming a
higher rep before a lower one must not wait in a cycle with, say, ``assign_many`` giving to
both: neither may be aborted as a deadlock."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection

from highseas.accounts.models import RepProfile
from highseas.accounts.visibility import Viewer
from highseas.customers.models import Customer
from highseas.intake import creation
from highseas.intake.imports import commit_import, preview_import
from highseas.pools import reasons
from highseas.pools.authority import RuleAuthority
from highseas.pools.bulk_assign import Grant, assign_many
from highseas.pools.reasons import Reason
from tests.races import race

pytestmark = pytest.mark.django_db(transaction=True)


def test_an_import_naming_owners_against_id_order_does_not_deadlock_with_assign_many(
    org: dict[str, Any], make_customer: Callable[..., Customer], monkeypatch: Any
) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("row locks: a SQLite write transaction excludes every other writer")
    rep_a, rep_b = org["rep_a"], org["rep_b"]
    assert rep_a.pk < rep_b.pk
    for rep in (rep_a, rep_b):
        RepProfile.objects.get_or_create(user=rep)
    one, other = (make_customer(org["admin"], pool=org["east_pool"]) for _ in range(2))
    content = (
        "客户名称,电话,负责人\n"
        f"远航一号科技有限公司,13800000001,{rep_b.username}\n"
        f"远航二号科技有限公司,13800000002,{rep_a.username}\n"
    ).encode()
    viewer = Viewer(org["admin"])
    job = preview_import(viewer, content=content, pool_id=org["east_pool"].pk, file_name="o.csv")
    assert list(job.rows.order_by("line").values_list("owner", flat=True)) == [rep_b.pk, rep_a.pk]

    first_locked = threading.Event()
    calls: list[int] = []
    within_cap = creation._owner_within_cap

    def slow_after_the_first(owner: Any, pool: Any, **options: Any) -> Any:
        found = within_cap(owner, pool, **options)
        calls.append(owner.pk)
        if len(calls) == 1:  # rep_b locked: assign_many locks rep_a meanwhile, then waits
            first_locked.set()
            time.sleep(1.0)
        return found

    monkeypatch.setattr(creation, "_owner_within_cap", slow_after_the_first)

    def act(index: int) -> None:
        if index == 0:
            commit_import(viewer, job.pk)
            return
        assert first_locked.wait(30)
        time.sleep(0.2)
        authority = RuleAuthority(999, "other", None, frozenset([rep_a.pk, rep_b.pk]))
        reason = Reason(reasons.RULE_ASSIGNED, {"rule": "other", "run": 0})
        assign_many(
            [
                Grant(authority, one.pk, rep_a.pk, reason),
                Grant(authority, other.pk, rep_b.pk, reason),
            ]
        )

    outcomes = race(2, act)
    assert outcomes == Counter({"ok": 2}), outcomes
    assert calls == [rep_b.pk, rep_a.pk]  # the import did lock against the id order
    assert Customer.objects.filter(owner=rep_a).count() == 2
    assert Customer.objects.filter(owner=rep_b).count() == 2
