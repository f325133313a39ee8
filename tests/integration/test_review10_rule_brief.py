"""Review of a rule's assignment answered without reading its row back
(``assign_statements.assign_by_rule`` → ``claim_statements.write_owned(whole=False)``): the
brief customer is built by ``Customer.from_db`` from ``BRIEF_ROW``, which maps values to
fields by the model's field order; every field it holds, or loads on use, is the database's,
and each receiver is told of exactly the customers the ledger gave them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from highseas.accounts.models import RepProfile
from highseas.customers.models import Customer
from highseas.notify.models import Notification
from highseas.pools import assign_statements, claim_statements
from highseas.pools.models import OwnershipEvent
from highseas.routing import runs
from highseas.routing.models import AssignmentRule
from highseas.routing.services import run_assignment

pytestmark = pytest.mark.django_db


def test_brief_row_follows_the_model_s_field_order() -> None:
    names = [f.attname for f in Customer._meta.concrete_fields]
    assert [n for n in names if n in claim_statements.BRIEF_ROW] == list(claim_statements.BRIEF_ROW)


def test_a_service_run_s_brief_customers_are_the_database_s_rows(
    org: dict[str, Any], make_customer: Callable[..., Customer], monkeypatch: Any
) -> None:
    pool = org["east_pool"]
    for rep in (org["rep_a"], org["rep_b"]):
        RepProfile.objects.get_or_create(user=rep)
    customers = [make_customer(org["admin"], pool=pool) for _ in range(6)]
    AssignmentRule.objects.create(
        name="全部", target={"team": org["east"].pk, "strategy": "round_robin"}, conditions={}
    )
    answered: list[Customer] = []
    real = assign_statements.assign_by_rule

    def spied(*args: Any, **kwargs: Any) -> Customer | None:
        found = real(*args, **kwargs)
        if found is not None:
            answered.append(found)
        return found

    monkeypatch.setattr(assign_statements, "assign_by_rule", spied)
    assert len(customers) <= runs.SERVICE_PATH_MAX
    result = run_assignment(
        org["admin"], pool=pool, dry_run=False, customer_ids=[c.pk for c in customers]
    )
    assert result.run.apply_mode == "service"
    assert len(answered) == len(customers)
    fields = [f.attname for f in Customer._meta.concrete_fields]
    for brief in answered:
        stored = Customer.objects.filter(pk=brief.pk).values(*fields).get()
        assert {name: getattr(brief, name) for name in fields} == stored
        assert brief.owner_id in (org["rep_a"].pk, org["rep_b"].pk)
    given = sorted(
        OwnershipEvent.objects.filter(kind="assigned").values_list("to_owner_id", "customer_id")
    )
    told = sorted(
        Notification.objects.filter(kind="assigned").values_list("recipient_id", "customer_id")
    )
    assert given == told == sorted((c.owner_id, c.pk) for c in answered)
