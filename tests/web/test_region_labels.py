"""The province and city pickers read in the page's language: English names in English (the
provinces' names in common English use, the cities in pinyin), Chinese in Chinese; the stored
value stays the Chinese name, so the filters keep working."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.utils import translation

from highseas.customers.models import Customer
from highseas.customers.regions import (
    PROVINCES_EN,
    divisions,
    english_name,
    label,
    normalize_city,
    normalize_province,
    romanized,
)
from tests.web.pages import html, signed_in

pytestmark = pytest.mark.django_db

HAN = re.compile(r"[\u3400-\u9fff]")
OPTION = re.compile(r'<option value="([^"]*)"[^>]*>([^<]*)</option>')


def province_options(page: str) -> dict[str, str]:
    select = re.search(r"<select[^>]*data-province[^>]*>(.*?)</select>", page, re.S)
    assert select is not None
    return dict(OPTION.findall(select.group(1)))


def test_every_province_has_an_english_name() -> None:
    assert set(divisions()) == set(PROVINCES_EN)
    assert not any(HAN.search(name) for name in PROVINCES_EN.values())
    assert [english_name(p) for p in ("内蒙古", "广西", "西藏", "香港", "澳门", "陕西")] == [
        "Inner Mongolia",
        "Guangxi",
        "Tibet",
        "Hong Kong",
        "Macau",
        "Shaanxi",
    ]


@pytest.mark.parametrize(
    ("city", "english"),
    [
        ("杭州", "Hangzhou"),
        ("西安", "Xi'an"),
        ("重庆", "Chongqing"),
        ("长沙", "Changsha"),
        ("朝阳", "Chaoyang"),
        ("吕梁", "Lüliang"),
        ("延边朝鲜族自治州", "Yanbian"),
        ("湘西土家族苗族自治州", "Xiangxi"),
        ("大兴安岭地区", "Daxing'anling"),
        ("阿拉善盟", "Alashan"),
        ("西双版纳傣族自治州", "Xishuangbanna"),
        ("伊犁哈萨克自治州", "Yili"),
        ("白沙黎族自治县", "Baisha"),
    ],
)
def test_a_city_reads_in_pinyin_without_its_suffix(city: str, english: str) -> None:
    assert romanized(city) == english


def test_every_city_has_a_latin_name() -> None:
    for cities in divisions().values():
        for city in cities:
            name = english_name(city)
            assert name[:1].isupper() and not HAN.search(name), (city, name)


def test_an_english_name_is_read_as_its_division() -> None:
    assert normalize_province("Zhejiang") == "浙江"
    assert normalize_province("inner mongolia") == "内蒙古"
    assert normalize_city("Hangzhou", "浙江") == "杭州"
    assert normalize_city("hangzhou") == "杭州"
    assert normalize_city("Lvliang", "山西") == "吕梁"
    # two cities are Fuzhou (福州, 抚州): only the province tells which
    assert (normalize_city("Fuzhou", "福建"), normalize_city("Fuzhou", "江西")) == ("福州", "抚州")
    assert normalize_city("Fuzhou") == "Fuzhou"
    assert normalize_city("Springfield", "浙江") == "Springfield"


def test_the_label_follows_the_active_language() -> None:
    with translation.override("en"):
        assert (label("浙江"), label("杭州"), label("火星")) == ("Zhejiang", "Hangzhou", "火星")
    with translation.override("zh-hans"):
        assert (label("浙江"), label("杭州")) == ("浙江", "杭州")


@pytest.mark.parametrize("url", ["/customers/new/", "edit"])
def test_the_english_pickers_list_english_names_and_keep_chinese_values(
    world: dict[str, Any], url: str
) -> None:
    client = signed_in(world["rep_a"])
    if url == "edit":
        mine = Customer.objects.filter(owner=world["rep_a"]).first()
        assert mine is not None
        url = f"/customers/{mine.pk}/edit/"
    client.cookies["django_language"] = "en"
    options = province_options(html(client.get(url)))
    assert options["浙江"] == "Zhejiang"
    assert "Inner Mongolia" in options.values() and "Tibet" in options.values()
    assert not [name for name in options.values() if HAN.search(name)]
    assert set(divisions()) <= set(options)  # the values are the stored Chinese names
    client.cookies["django_language"] = "zh-hans"
    options = province_options(html(client.get(url)))
    assert options["浙江"] == "浙江"


def test_a_customer_registered_in_english_is_stored_and_found_in_chinese(
    world: dict[str, Any],
) -> None:
    client = signed_in(world["rep_a"])
    client.cookies["django_language"] = "en"
    page = html(client.get("/customers/new/"))
    assert '"Hangzhou"' in page  # the city suggestions, in English
    client.post(
        "/customers/new/",
        {
            "name": "杭州青山湖科技有限公司",
            "kind": "company",
            "level": "B",
            "source": "referral",
            "province": "浙江",
            "city": "Hangzhou",
            "pool": world["east_pool"].pk,
        },
    )
    created = Customer.objects.get(name="杭州青山湖科技有限公司")
    assert (created.province, created.city) == ("浙江", "杭州")
    assert created.name in html(client.get("/mine/", {"province": "浙江", "city": "杭州"}))
    assert "Hangzhou, Zhejiang" in html(client.get(f"/customers/{created.pk}/"))
    client.cookies["django_language"] = "zh-hans"
    assert "浙江 杭州" in html(client.get(f"/customers/{created.pk}/"))


def test_the_pool_filters_name_provinces_and_cities_in_the_pages_language(
    world: dict[str, Any],
) -> None:
    client = signed_in(world["rep_a"])
    client.cookies["django_language"] = "en"
    page = html(client.get("/pool/"))
    provinces = province_options(page)
    assert provinces["浙江"] == "Zhejiang"
    cities = re.search(r"<select[^>]*data-city[^>]*>(.*?)</select>", page, re.S)
    assert cities is not None and "杭州" in dict(OPTION.findall(cities.group(1)))
    labels = [*provinces.values(), *dict(OPTION.findall(cities.group(1))).values()]
    assert "Hangzhou" in labels and not [name for name in labels if HAN.search(name)]
    client.cookies["django_language"] = "zh-hans"
    assert province_options(html(client.get("/pool/")))["浙江"] == "浙江"
