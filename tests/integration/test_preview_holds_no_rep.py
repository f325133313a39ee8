"""An import's preview plans the whole file in one transaction that is rolled back, which may
last a minute. It reads the reps its rules reach without locking them: a claim by one of
them meanwhile goes through at once (PostgreSQL, a real second connection; SQLite's write
transaction excludes every other writer)."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.db import connection, connections

from highseas.accounts.visibility import Viewer
from highseas.customers.models import Customer
from highseas.intake.imports import commit_import, preview_import
from highseas.pools.ownership import claim
from highseas.routing.models import AssignmentRule

pytestmark = pytest.mark.django_db(transaction=True)


def _claim_with_a_lock_timeout(org: dict[str, Any], customer_id: int, out: dict[str, Any]) -> None:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = '3s'")  # waiting on the preview fails
        claim(org["rep_b"], customer_id)
        out["claimed"] = True
    except Exception as error:  # reported by the test
        out["claimed"] = error
    finally:
        connections.close_all()


def test_a_rep_claims_while_a_preview_routes_customers_to_them(
    org: dict[str, Any], make_customer: Any
) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("SQLite's write transaction excludes every other writer")
    pooled = make_customer(org["rep_a"], pool=org["east_pool"])
    AssignmentRule.objects.create(
        name="华东", target={"team": org["east"].pk, "strategy": "round_robin"}, conditions={}
    )
    content = "客户名称,电话\n" + "".join(
        f"远航{i}号科技有限公司,1390013{i:04d}\n" for i in range(40)
    )
    out: dict[str, Any] = {}

    def after_a_batch(done: int, _total: int) -> None:  # inside the preview's transaction
        if out:
            return
        worker = threading.Thread(target=_claim_with_a_lock_timeout, args=(org, pooled.pk, out))
        worker.start()
        worker.join(30)

    job = preview_import(
        Viewer(org["admin"]),
        content=content.encode(),
        pool_id=org["east_pool"].pk,
        file_name="a.csv",
        progress=after_a_batch,
    )
    assert out == {"claimed": True}
    assert Customer.objects.get(pk=pooled.pk).owner_id == org["rep_b"].pk
    assert job.planned == {"create": 40}
    owners = set(job.rows.values_list("owner_id", flat=True))
    assert org["rep_b"].pk in owners  # the preview gave rep_b customers: it read rep_b
    done = commit_import(Viewer(org["admin"]), job.pk)  # the claim changed no plan
    assert done.status == "done"
