"""One spelling for a province and a city, whatever the entry point writes."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from highseas.customers.models import Customer
from highseas.customers.regions import divisions, normalize_city, normalize_province
from highseas.intake.creation import create_customer
from highseas.pools.editing import edit_customer


@pytest.mark.parametrize(
    ("written", "stored"),
    [
        ("浙江省", "浙江"),
        ("浙江", "浙江"),
        ("广西壮族自治区", "广西"),
        ("北京市", "北京"),
        ("香港特别行政区", "香港"),
        (" 新疆维吾尔自治区 ", "新疆"),
        ("火星", "火星"),
    ],
)
def test_a_province_has_one_spelling(written: str, stored: str) -> None:
    assert normalize_province(written) == stored


def test_a_city_has_one_spelling() -> None:
    assert normalize_city("杭州市", "浙江") == "杭州"
    assert normalize_city("杭州市") == "杭州"
    assert normalize_city("延边朝鲜族自治州", "吉林") == "延边朝鲜族自治州"
    assert normalize_city("上海市", "上海") == "上海"


def test_the_divisions_are_the_official_ones() -> None:
    found = divisions()
    assert len(found) == 34
    assert found["浙江"] == (
        "杭州",
        "宁波",
        "温州",
        "嘉兴",
        "湖州",
        "绍兴",
        "金华",
        "衢州",
        "舟山",
        "台州",
        "丽水",
    )


@pytest.mark.django_db
def test_create_and_edit_store_the_short_names(org: dict[str, Any]) -> None:
    fields = {"name": "杭州云帆网络科技有限公司", "province": "浙江省", "city": "杭州市"}
    customer = create_customer(actor=org["rep_a"], fields=fields, owner=org["rep_a"]).customer
    assert (customer.province, customer.city) == ("浙江", "杭州")
    edit_customer(org["rep_a"], customer.pk, {"province": "江苏省", "city": "苏州市"})
    customer.refresh_from_db()
    assert (customer.province, customer.city) == ("江苏", "苏州")


@pytest.mark.django_db
def test_a_bad_phone_is_refused_on_create_and_edit(org: dict[str, Any]) -> None:
    client = APIClient()
    client.force_authenticate(org["rep_a"])
    created = client.post(
        "/api/v1/customers/", {"name": "宁波海曙精工", "phone": "abc-123"}, format="json"
    )
    assert created.status_code == 400 and created.json()["code"] == "validation_error"
    assert not Customer.objects.exists()
    customer = create_customer(
        actor=org["rep_a"], fields={"name": "宁波海曙精工"}, owner=org["rep_a"]
    ).customer
    edited = client.patch(f"/api/v1/customers/{customer.pk}/", {"phone": "abc-123"}, format="json")
    assert edited.status_code == 400 and edited.json()["code"] == "validation_error"
    customer.refresh_from_db()
    assert customer.phone == ""
