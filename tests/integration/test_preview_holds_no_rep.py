"""A preview plans by writing in one transaction that is rolled back, which may last a minute:
an import's over the whole file, a rule's over the pool's backlog. A claim by a rep the
preview reaches goes through meanwhile, at once, on a real second connection: on PostgreSQL
the import's preview reads the reps without locking them; on SQLite, whose write transaction
excludes every other writer, a large preview runs on a private copy of the database."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest
from django.db import connection, connections
from django.db.utils import OperationalError
from django.test import override_settings

from highseas.accounts.visibility import Viewer
from highseas.customers.models import Customer
from highseas.intake.imports import commit_import, preview_import
from highseas.pools.ownership import claim
from highseas.routing import drafts
from highseas.routing.models import AssignmentRule

# solo: timed, or several processes that want both cores; run alone (scripts/test)
pytestmark = [pytest.mark.solo, pytest.mark.django_db(transaction=True)]


def _claim_with_a_lock_timeout(
    org: dict[str, Any], customer_id: int, out: dict[str, Any], seconds: float
) -> None:
    """Claim on this thread's own connection, waiting at most ``seconds`` for a lock."""
    try:
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(f"SET lock_timeout = '{int(seconds * 1000)}ms'")
        else:  # the write gate and SQLite's busy handler wait for the connection's timeout
            options = {**connection.settings_dict["OPTIONS"], "timeout": seconds}
            connection.settings_dict = {**connection.settings_dict, "OPTIONS": options}
        started = time.perf_counter()
        claim(org["rep_b"], customer_id)
        out["claimed"], out["seconds"] = True, time.perf_counter() - started
    except Exception as error:  # reported by the test
        out["claimed"] = error
    finally:
        connections.close_all()


def _files_beside_the_database() -> set[str]:
    return {path.name for path in Path(connection.settings_dict["NAME"]).parent.iterdir()}


def _preview_claiming_meanwhile(
    org: dict[str, Any], customer_id: int, seconds: float
) -> tuple[Any, dict[str, Any]]:
    """An admin's preview of a 40-row file into the east pool, during which (after its first
    batch, inside its transaction) rep_b claims ``customer_id`` waiting at most ``seconds``:
    the job and what the claim came to."""
    content = "客户名称,电话\n" + "".join(
        f"远航{i}号科技有限公司,1390013{i:04d}\n" for i in range(40)
    )
    out: dict[str, Any] = {}

    def after_a_batch(_done: int, _total: int) -> None:
        if not out:
            args = (org, customer_id, out, seconds)
            worker = threading.Thread(target=_claim_with_a_lock_timeout, args=args)
            worker.start()
            worker.join(30)

    job = preview_import(
        Viewer(org["admin"]),
        content=content.encode(),
        pool_id=org["east_pool"].pk,
        file_name="a.csv",
        progress=after_a_batch,
    )
    return job, out


@override_settings(HIGHSEAS_IMPORT_PREVIEW_IN_PLACE_ROWS=10)
def test_a_rep_claims_while_a_preview_routes_customers_to_them(
    org: dict[str, Any], make_customer: Any
) -> None:
    files = _files_beside_the_database() if connection.vendor == "sqlite" else set()
    pooled = make_customer(org["rep_a"], pool=org["east_pool"])
    AssignmentRule.objects.create(
        name="华东", target={"team": org["east"].pk, "strategy": "round_robin"}, conditions={}
    )
    job, out = _preview_claiming_meanwhile(org, pooled.pk, 3.0)
    assert out["claimed"] is True
    assert out["seconds"] < 2.0
    assert Customer.objects.get(pk=pooled.pk).owner_id == org["rep_b"].pk
    assert job.planned == {"create": 40}
    owners = set(job.rows.values_list("owner_id", flat=True))
    assert org["rep_b"].pk in owners  # the preview gave rep_b customers: it read rep_b
    done = commit_import(Viewer(org["admin"]), job.pk)  # the claim changed no plan
    assert done.status == "done"
    if connection.vendor == "sqlite":  # the copy's files are gone
        assert _files_beside_the_database() == files


def test_a_small_file_is_planned_in_place_on_sqlite(
    org: dict[str, Any], make_customer: Any
) -> None:
    """Below ``IN_PLACE_ROWS`` no copy is worth its cost: the preview holds SQLite's write lock
    for its fraction of a second, and a claim meanwhile waits for it."""
    if connection.vendor != "sqlite":
        pytest.skip("PostgreSQL plans in place, holding no lock a claim needs")
    pooled = make_customer(org["rep_a"], pool=org["east_pool"])
    job, out = _preview_claiming_meanwhile(org, pooled.pk, 0.3)
    assert isinstance(out["claimed"], OperationalError)  # it waited on the preview's lock
    assert job.planned == {"create": 40}
    assert Customer.objects.get(pk=pooled.pk).owner_id is None


@override_settings(HIGHSEAS_RULE_PREVIEW_IN_PLACE_BACKLOG=1)
def test_a_rep_claims_while_a_rule_preview_runs(
    org: dict[str, Any], make_customer: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    pooled = make_customer(org["rep_a"], pool=org["east_pool"])
    backlog = [make_customer(org["rep_a"], pool=org["east_pool"]) for _ in range(2)]
    out: dict[str, Any] = {}
    run = drafts.run_assignment

    def claim_then_run(*args: Any, **kwargs: Any) -> Any:  # the draft is saved by now
        worker = threading.Thread(
            target=_claim_with_a_lock_timeout, args=(org, pooled.pk, out, 3.0)
        )
        worker.start()
        worker.join(30)
        return run(*args, **kwargs)

    monkeypatch.setattr(drafts, "run_assignment", claim_then_run)
    files = _files_beside_the_database() if connection.vendor == "sqlite" else set()
    preview = drafts.preview_rule(
        Viewer(org["admin"]),
        None,
        {
            "name": "华东",
            "pool": org["east_pool"],
            "target": {"user": org["rep_b"].pk},
            "conditions": {},
        },
    )
    assert out["claimed"] is True
    assert out["seconds"] < 2.0
    assert Customer.objects.get(pk=pooled.pk).owner_id == org["rep_b"].pk
    # the claimed customer is in the preview or not, as it read before or after the claim
    taken = {row["customer"] for row in preview.taken}
    assert {c.pk for c in backlog} <= taken <= {pooled.pk, *(c.pk for c in backlog)}
    assert not AssignmentRule.objects.exists()  # the draft was rolled back
    if connection.vendor == "sqlite":
        assert _files_beside_the_database() == files
