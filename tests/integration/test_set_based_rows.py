"""Rows written set-based are the rows the ORM writes:

- ``ledger.record_events`` writes the same rows whether its entries share their state and
  reason objects (a backlog run's batch) or each carries its own equal ones;
- a JSON value written as ``rows.db_json`` reads back as the ORM's own write of it reads;
- on PostgreSQL, the ``COPY`` of every table written set-based names its columns' types, and a
  ``jsonb`` column given anything but ``db_json``'s value is refused, not written as a string.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.db import connection, transaction
from django.utils import timezone

from highseas.accounts.models import AuditLog
from highseas.customers.models import Customer
from highseas.engine.ownership import EventKind, OwnershipState, Status
from highseas.insights.models import LevelChange
from highseas.insights.value import AUDIT_FIELDS, LEVEL_CHANGE_FIELDS
from highseas.intake.imports import ROW_FIELDS
from highseas.intake.models import ImportRow
from highseas.pools import rows
from highseas.pools.ledger import ENTRY_FIELDS, Entry, record_events
from highseas.pools.models import OwnershipEvent
from highseas.pools.reasons import Reason
from highseas.pools.rows import db_datetime, db_json, insert_rows
from highseas.routing.models import AssignmentDecision, AssignmentRun
from highseas.routing.runs import DECISION_FIELDS

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 3, 10, 10, 0, tzinfo=timezone.get_default_timezone())
EXPLANATION = {
    "rule": {"id": 3, "name": "华东规则"},
    "not_matched": [1, 2],
    "target": {"kind": "team", "id": 4, "strategy": "round_robin"},
    "eligible": {"5": 0.1235, "6": None, "7": -3.0},
    "rejected": {"8": {"reason": "holding_cap_reached", "used": 5, "limit": 5}},
    "tie_break": {"method": "seeded_random", "among": [5, 6], "chosen": 5},
    "note": 'quote " backslash \\ tab \t 表情 😀',
    "outcome": "assigned",
    "reason": "",
    "owner": 5,
    "flags": [True, False, None],
}


def entries(customers: list[Customer], owners: list[int], *, shared: bool) -> list[Entry]:
    """One ``assigned`` entry per customer, to the owners in turn, under two rules' reasons:
    with one state and reason object per value (``shared``), or fresh equal ones each."""
    pooled = OwnershipState(Status.POOLED, None, customers[0].pool_id)
    owned = {owner: OwnershipState(Status.OWNED, owner, customers[0].pool_id) for owner in owners}
    reasons = [Reason("rule_assigned", {"rule": name, "run": 9}) for name in ("甲", "乙")]
    made = []
    for index, customer in enumerate(customers):
        owner = owners[index % len(owners)]
        before, after = pooled, owned[owner]
        reason = reasons[index % 3 % 2]
        if not shared:
            before = OwnershipState(Status.POOLED, None, customer.pool_id)
            after = OwnershipState(Status.OWNED, owner, customer.pool_id)
            reason = Reason("rule_assigned", dict(reason.params))
        made.append(
            Entry(
                customer.pk, EventKind.ASSIGNED, before, after, reason, actor_label="system:rule:3"
            )
        )
    return made


def ledger_rows(customers: list[Customer]) -> list[tuple[Any, ...]]:
    return [
        (
            *(e.kind, e.from_status, e.from_owner_id, e.from_pool_id, e.to_status),
            *(e.to_owner_id, e.to_pool_id, e.actor_id, e.actor_label, e.reason, e.reason_code),
            *(e.reason_params, e.policy_ref, e.at),
        )
        for e in OwnershipEvent.objects.filter(customer__in=customers, kind="assigned").order_by(
            "id"
        )
    ]


def test_shared_states_and_reasons_write_the_rows_of_their_own_copies(
    org: dict[str, Any], make_customer: Callable[..., Customer]
) -> None:
    made = [make_customer(org["admin"], pool=org["east_pool"]) for _ in range(12)]
    first, second = made[:6], made[6:]
    owners = [org["rep_a"].pk, org["rep_b"].pk, org["rep_c"].pk]
    record_events(entries(first, owners, shared=True), at=NOW)
    record_events(entries(second, owners, shared=False), at=NOW)
    written = ledger_rows(first)
    assert written == ledger_rows(second)
    assert [row[5] for row in written] == owners * 2  # each row its own owner
    assert len({str(row[11]) for row in written}) == 2  # and its own rule's reason


def test_a_json_value_written_set_based_reads_as_the_orms_write(
    org: dict[str, Any], make_customer: Callable[..., Customer]
) -> None:
    customer, rep = make_customer(org["admin"], pool=org["east_pool"]), org["rep_a"]
    run = AssignmentRun.objects.create(started_at=NOW, now=NOW, dry_run=False, seed=1)
    by_orm = AssignmentDecision.objects.create(
        run=run, customer=customer, owner=rep, outcome="assigned", explanation=EXPLANATION, at=NOW
    )
    fields = ("run", "customer", "owner", "outcome", "reason", "explanation", "at")
    row = (run.pk, customer.pk, rep.pk, "assigned", "", db_json(EXPLANATION), db_datetime(NOW))
    insert_rows(AssignmentDecision, fields, [row])
    ours = AssignmentDecision.objects.exclude(pk=by_orm.pk).get(run=run)
    by_orm.refresh_from_db()
    assert ours.explanation == by_orm.explanation == EXPLANATION
    assert AssignmentDecision.objects.filter(run=run, explanation__owner=5).count() == 2
    assert (
        AssignmentDecision.objects.filter(run=run, explanation__rule__name="华东规则").count() == 2
    )


def test_every_table_written_set_based_is_copied_with_its_columns_types() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("COPY is PostgreSQL's")
    written = [
        (Customer, tuple(f.name for f in Customer._meta.concrete_fields)),
        (OwnershipEvent, ENTRY_FIELDS),
        (AssignmentDecision, DECISION_FIELDS),
        (ImportRow, ROW_FIELDS),
        (AuditLog, AUDIT_FIELDS),
        (LevelChange, LEVEL_CHANGE_FIELDS),
    ]
    for model, names in written:
        types = rows._copy_types(model, names)
        assert types is not None, model
        assert len(types[0]) == len(names)
    names, json_columns = rows._copy_types(AssignmentDecision, DECISION_FIELDS)  # type: ignore[misc]
    assert [names[i] for i in json_columns] == ["jsonb"]
    assert names[DECISION_FIELDS.index("at")] == "timestamptz"


def test_a_text_given_to_a_json_column_is_refused_and_nothing_is_written(
    org: dict[str, Any], make_customer: Callable[..., Customer]
) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("COPY is PostgreSQL's")
    customer, rep = make_customer(org["admin"], pool=org["east_pool"]), org["rep_a"]
    run = AssignmentRun.objects.create(started_at=NOW, now=NOW, dry_run=False, seed=1)
    good = (run.pk, customer.pk, None, rep.pk, "assigned", "", db_json({}), db_datetime(NOW))
    text = (*good[:6], '{"owner": 5}', good[7])
    with pytest.raises(TypeError, match="jsonb"), transaction.atomic():
        insert_rows(AssignmentDecision, DECISION_FIELDS, [good, text])
    assert not AssignmentDecision.objects.filter(run=run).exists()
    insert_rows(AssignmentDecision, DECISION_FIELDS, [good])
    assert AssignmentDecision.objects.get(run=run).explanation == {}


def test_a_moment_is_adapted_apart_from_its_other_pass_of_a_repeated_hour() -> None:
    """``db_datetime`` keeps the moments it adapted: two that differ only by ``fold`` (the
    first and second 01:30 of the night New York turns its clocks back) are equal to Python
    but an hour apart, and each is written as itself."""
    zone = ZoneInfo("America/New_York")
    first = datetime(2026, 11, 1, 1, 30, tzinfo=zone)
    second = first.replace(fold=1)
    assert first == second  # to Python, one wall time
    written = db_datetime(first), db_datetime(second)
    if connection.vendor == "sqlite":
        assert written == ("2026-11-01 05:30:00", "2026-11-01 06:30:00")
    else:
        assert [moment.astimezone(UTC).hour for moment in written] == [5, 6]
