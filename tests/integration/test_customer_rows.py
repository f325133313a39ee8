"""``routing.snapshots.customer_rows``: a run's batch read with the ORM's query and converters in
one loop is what ``values(*CUSTOMER_COLUMNS, "hint")`` reads, row for row and type for type
(JSON empty and not, times set and unset, the rule hint), locked or not."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest
from django.db import connection, transaction
from django.utils import timezone

from highseas.customers.models import Customer
from highseas.engine.planner import Rule
from highseas.engine.targets import PoolTarget
from highseas.routing.runs import first_rule
from highseas.routing.snapshots import CUSTOMER_COLUMNS, RuleSet, customer_rows

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 3, 10, 10, 0, tzinfo=timezone.get_default_timezone())


def typed(rows: list[dict[str, Any]]) -> list[list[tuple[str, type, Any]]]:
    return [[(name, type(value), value) for name, value in row.items()] for row in rows]


def test_the_batch_reads_as_values_reads_it(
    org: dict[str, Any], make_customer: Callable[..., Customer]
) -> None:
    pool = org["east_pool"]
    for tags, custom, seen, province in [
        ([], {}, None, "浙江"),
        (["vip", "华东"], {"渠道": "展会", "n": 3}, NOW, "江苏"),
        ([], {"a": []}, NOW, "浙江"),
        (["x"], {}, None, "上海"),
    ]:
        customer = make_customer(
            org["admin"], pool=pool, tags=tags, custom_fields=custom, province=province
        )
        Customer.objects.filter(pk=customer.pk).update(
            last_activity_at=seen, last_effective_activity_at=seen
        )
    zhejiang = {"all": [{"field": "province", "op": "eq", "value": "浙江"}]}
    rule_set = RuleSet(  # a hint of 7 for Zhejiang, 8 for the others
        [],
        [Rule(7, "浙江", zhejiang, PoolTarget(pool.pk)), Rule(8, "其他", {}, PoolTarget(pool.pk))],
    )
    page = (
        Customer.objects.filter(pool=pool)
        .annotate(hint=first_rule(rule_set, connection.vendor))
        .order_by("pool_id", "pk")
    )
    expected = list(page.values(*CUSTOMER_COLUMNS, "hint"))
    assert [row["hint"] for row in expected] == [7, 8, 7, 8]
    assert typed(customer_rows(page)) == typed(expected)
    with transaction.atomic():
        locked = page.select_for_update(of=("self",))
        assert typed(customer_rows(locked)) == typed(expected)
    assert customer_rows(page.filter(pk__in=[])) == []
