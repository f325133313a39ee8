"""Search (``customers.search``): the case table of ``bench.search_cases`` at small scale, the
ranking, keyset pages across tiers, and the indexes following writes — on SQLite and
PostgreSQL alike."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from highseas.bench.search_cases import CASES, PLANTED, Case, plant, verdict
from highseas.customers import fts, search
from highseas.customers.models import Contact, Customer
from highseas.pools import dedup

pytestmark = pytest.mark.django_db

DISTRACTORS = (
    "上海华信科技有限公司",  # 科技 inside, 华 inside
    "华为之家餐饮管理有限公司",  # another 华为… core: same prefix tier
    "北京龙腾科技有限公司",
    "广州小米粥餐饮店",
)


@pytest.fixture
def planted(org: dict[str, Any], make_customer: Callable[..., Customer]) -> dict[str, int]:
    for name in DISTRACTORS:
        make_customer(org["admin"], pool=org["east_pool"], name=name, phone="", email="")
    return plant(org["admin"], org["east_pool"])


def page(text: str, **options: Any) -> tuple[list[int], list[str]]:
    rows = search.search(text, **options).rows
    return [row["id"] for row in rows], [row["name"] for row in rows]


@pytest.mark.parametrize("case", CASES, ids=lambda case: f"{case.kind}:{case.query}")
def test_the_search_case_table(planted: dict[str, int], case: Case) -> None:
    ids, names = page(case.query)
    assert verdict(case, names, planted.get(case.key), ids), (ids, names)
    if case.expect == "contains":  # small scale: the planted one is among the hits
        assert planted[case.key] in ids


def test_the_case_table_plants_what_it_expects() -> None:
    assert {case.key for case in CASES} <= {spec.key for spec in PLANTED}


def test_exact_comes_before_prefix_before_contains(
    org: dict[str, Any], make_customer: Callable[..., Customer]
) -> None:
    pool = org["east_pool"]
    contains = make_customer(org["admin"], pool=pool, name="上海金华为民服务有限公司")
    prefix = make_customer(org["admin"], pool=pool, name="华为终端有限公司")
    exact = make_customer(org["admin"], pool=pool, name="华为有限公司")
    newest = make_customer(org["admin"], pool=pool, name="深圳华为电子有限公司")  # prefix too
    assert page("华为")[0] == [exact.pk, newest.pk, prefix.pk, contains.pk]


def test_in_the_pool_comes_before_owned_within_a_tier(
    org: dict[str, Any], make_customer: Callable[..., Customer]
) -> None:
    pooled = make_customer(org["admin"], pool=org["east_pool"], name="星河湾科技有限公司")
    owned = make_customer(
        org["admin"], owner=org["rep_a"], pool=org["east_pool"], name="星河湾地产有限公司"
    )
    assert page("星河湾")[0] == [pooled.pk, owned.pk]


def test_pages_follow_the_ranking_without_gaps_or_repeats(
    org: dict[str, Any], make_customer: Callable[..., Customer]
) -> None:
    pool = org["east_pool"]
    names = ["云帆有限公司", "云帆网络有限公司", "杭州云帆科技有限公司", "上海青云帆船俱乐部"]
    made = [make_customer(org["admin"], pool=pool, name=name) for name in names]
    made.append(make_customer(org["admin"], owner=org["rep_a"], pool=pool, name="云帆物流有限公司"))
    whole = page("云帆", limit=50)[0]
    walked: list[int] = []
    cursor = None
    while True:
        result = search.search("云帆", before=cursor, limit=2)
        walked += [row["id"] for row in result.rows]
        if (cursor := result.next_before) is None:
            break
    assert walked == whole
    assert sorted(walked) == sorted(customer.pk for customer in made)


def test_a_customer_created_a_moment_ago_is_found_by_pinyin(
    org: dict[str, Any], make_customer: Callable[..., Customer]
) -> None:
    made = make_customer(org["admin"], pool=org["east_pool"], name="蔚来汽车有限公司")
    assert page("weilai")[0] == [made.pk]
    assert page("wlqc")[0] == [made.pk]


def test_a_renamed_customer_is_found_by_its_new_pairs_only(
    org: dict[str, Any], make_customer: Callable[..., Customer]
) -> None:
    made = make_customer(org["admin"], pool=org["east_pool"], name="青松岭农业有限公司")
    dedup.update_customer(customer=made, changes={"name": "白鹭洲文化有限公司"})
    assert (page("松岭")[0], page("鹭洲")[0], page("blz")[0]) == ([], [made.pk], [made.pk])


def test_merged_away_customers_are_not_found(
    org: dict[str, Any], make_customer: Callable[..., Customer]
) -> None:
    made = make_customer(org["admin"], pool=org["east_pool"], name="紫金山天文仪器有限公司")
    Contact.objects.create(customer=made, name="祖冲之")
    Customer.objects.filter(pk=made.pk).update(merged_into=made)  # as pools.merge marks it
    assert (page("紫金")[0], page("祖冲之")[0]) == ([], [])


def test_a_bulk_load_with_the_indexes_suspended_is_found_every_way_after(
    org: dict[str, Any], make_customer: Callable[..., Customer]
) -> None:
    with fts.search_index_suspended(connection):
        loaded = make_customer(org["admin"], pool=org["east_pool"], name="青松岭农业发展有限公司")
    assert (page("松岭")[0], page("qingsongling")[0]) == ([loaded.pk], [loaded.pk])


def test_the_name_filter_matches_what_search_finds(planted: dict[str, int]) -> None:
    for text in ("华为", "科技", "huawei", "hw", "欧阳明远", "龙", "西湖龙井"):
        found = set(page(text, limit=100)[0])
        filtered = Customer.objects.filter(search.name_filter(text))
        assert set(filtered.values_list("pk", flat=True)) == found, text


def test_a_search_reads_the_public_settings_once_per_statement_kind(
    planted: dict[str, int],
) -> None:
    """The scope (won customers left out or not) is read once per search, not once for each
    (tier, status, source) statement: a two-character query walks about twenty of them."""
    search.search("科技")  # indexes made ready, pinyin filled
    with CaptureQueriesContext(connection) as queries:
        rows = search.search("科技").rows
    settings_reads = [q for q in queries if "customers_publicsearchsettings" in q["sql"]]
    walks = [q for q in queries if "customers_customer" in q["sql"]]
    assert rows and len(walks) > 5
    assert len(settings_reads) <= 2  # the scope, and the public fields of the page's rows


@pytest.mark.parametrize("text", ["hw", "huawei", "hwjs", "zj", "xh"])
def test_pinyin_prefixes_read_from_listed_cores_or_the_subquery_alike(
    planted: dict[str, int], text: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PostgreSQL reads a pinyin prefix's customers from its cores when they are few
    (``NameQuery.listed_prefix_cores``), otherwise through the pinyin subquery: the same
    page either way (SQLite always takes the subquery)."""
    listed = [row["id"] for row in search.search(text, limit=50).rows]
    monkeypatch.setattr("highseas.customers.matching.LISTED_CORES", 0)
    assert [row["id"] for row in search.search(text, limit=50).rows] == listed
    assert listed or text == "xh"
