"""One customer's firmographics and contacts: who they are, before anyone owns them."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any, NamedTuple

from highseas.demo import data
from highseas.demo.identity import (
    NumberPlan,
    PersonName,
    company_domain,
    person_name,
    personal_email,
    wechat_id,
)
from highseas.demo.sampling import Weighted, between, chance, one_of
from highseas.engine.duplicates import DuplicateKeys, duplicate_keys
from highseas.engine.normalize import normalize_company_name

PERSON_SHARE = 0.07


class SizeClass(NamedTuple):
    name: str
    weight: float
    employees: tuple[int, int]
    revenue: tuple[tuple[str, float], ...]
    levels: tuple[tuple[str, float], ...]  # A/B/C


SIZES: tuple[SizeClass, ...] = (
    SizeClass(
        "micro", 28, (3, 9), (("lt1m", 80), ("1m-10m", 20)), (("A", 3), ("B", 20), ("C", 77))
    ),
    SizeClass(
        "small",
        38,
        (10, 49),
        (("lt1m", 20), ("1m-10m", 65), ("10m-100m", 15)),
        (("A", 8), ("B", 32), ("C", 60)),
    ),
    SizeClass(
        "medium",
        26,
        (50, 299),
        (("1m-10m", 25), ("10m-100m", 60), ("100m-1b", 15)),
        (("A", 18), ("B", 42), ("C", 40)),
    ),
    SizeClass(
        "large",
        6,
        (300, 999),
        (("10m-100m", 30), ("100m-1b", 60), ("gt1b", 10)),
        (("A", 35), ("B", 45), ("C", 20)),
    ),
    SizeClass(
        "enterprise",
        2,
        (1000, 30000),
        (("100m-1b", 45), ("gt1b", 55)),
        (("A", 55), ("B", 35), ("C", 10)),
    ),
)
KEY_ACCOUNT_SIZES = frozenset({"large", "enterprise"})
_SIZE = Weighted([size for size in SIZES], [size.weight for size in SIZES])
_REVENUE = {size.name: Weighted.of(size.revenue) for size in SIZES}
_LEVEL = {size.name: Weighted.of(size.levels) for size in SIZES}
_PERSON_LEVEL = Weighted.of((("A", 2), ("B", 18), ("C", 80)))

_PROVINCE = Weighted(data.PROVINCES, [province.weight for province in data.PROVINCES])
_CITY = {p.name: Weighted(p.cities, [city.weight for city in p.cities]) for p in data.PROVINCES}
_INDUSTRY = Weighted(data.INDUSTRIES, [industry.weight for industry in data.INDUSTRIES])
_PERSON_INDUSTRY = Weighted(
    [industry for industry in data.INDUSTRIES if industry.person_friendly],
    [industry.weight for industry in data.INDUSTRIES if industry.person_friendly],
)
_LEGAL_FORM = Weighted.of(data.LEGAL_FORMS)
_TITLE = Weighted.of(data.CONTACT_TITLES)
_SOURCE = Weighted.of(
    (
        ("web_form", 22),
        ("referral", 12),
        ("exhibition", 12),
        ("advertising", 15),
        ("cold_call", 15),
        ("import", 14),
        ("partner", 6),
        ("other", 4),
    )
)


def key_account_share() -> float:
    """The expected share of customers that go to the key-account pool."""
    return (1 - PERSON_SHARE) * sum(_SIZE.share(s) for s in SIZES if s.name in KEY_ACCOUNT_SIZES)


def region_share(region: str) -> float:
    """The expected share of customers that go to ``region``'s pool."""
    weight = sum(p.weight for p in data.PROVINCES if p.region == region)
    return (1 - key_account_share()) * weight / _PROVINCE.total


def campaigns(year: int) -> dict[str, tuple[str, ...]]:
    return {
        "web_form": ("官网留资", "官网免费试用申请", "产品白皮书下载"),
        "advertising": ("百度搜索推广", "抖音信息流", "微信朋友圈广告", "行业媒体投放"),
        "exhibition": (
            f"{year}中国国际工业博览会",
            f"{year}春季企业服务展",
            f"{year - 1}深圳国际电子展",
            "华东CIO峰会",
        ),
        "import": ("工商名录导入", "历史客户迁移", "行业协会名录"),
        "partner": ("华东渠道代理", "华南渠道代理", "ISV合作伙伴"),
        "referral": ("老客户转介绍",),
        "cold_call": ("电销外呼", ""),
        "other": ("",),
    }


@dataclass(slots=True)
class ContactProfile:
    name: str
    title: str
    phones: list[str]
    email: str
    wechat: str
    birthday: date | None
    important_dates: list[dict[str, str]]
    is_primary: bool
    do_not_contact: bool
    legal_basis: str


@dataclass(slots=True)
class CustomerProfile:
    name: str
    kind: str
    short_name: str  # what reps call it: the brand, or the person's name
    industry: str
    province: str
    city: str
    region: str
    is_key_account: bool
    level: str
    source: str
    campaign: str
    credit_code: str = ""
    phone: str = ""
    email: str = ""
    address: str = ""
    employees: int | None = None
    revenue_band: str = ""
    tags: list[str] = field(default_factory=list)
    custom_fields: dict[str, Any] = field(default_factory=dict)
    contacts: list[ContactProfile] = field(default_factory=list)
    core_name: str = ""  # a company's name without region and legal form, for its name key
    duplicate_keys: DuplicateKeys = field(default_factory=DuplicateKeys)


class ProfileFactory:
    """Makes customer profiles; companies' core names (their name duplicate keys) are unique
    within a run, so the demo holds no duplicate companies."""

    def __init__(self, rng: random.Random, numbers: NumberPlan, year: int) -> None:
        self.rng = rng
        self.numbers = numbers
        self.year = year
        self.campaigns = campaigns(year)
        self.core_names: set[str] = set()

    def make(self) -> CustomerProfile:
        rng = self.rng
        province = _PROVINCE.pick(rng)
        city = _CITY[province.name].pick(rng)
        source = _SOURCE.pick(rng)
        if chance(rng, PERSON_SHARE):
            profile = self._person(province, city.name, source)
        else:
            profile = self._company(province, city, source)
        profile.tags = rng.sample(data.TAGS, between(rng, 0, 3)) if chance(rng, 0.6) else []
        profile.address = _address(rng, city.name)
        profile.duplicate_keys = _duplicate_keys(profile)
        return profile

    def _person(self, province: data.Province, city: str, source: str) -> CustomerProfile:
        rng = self.rng
        person = person_name(rng)
        profile = CustomerProfile(
            name=person.name,
            kind="person",
            short_name=person.name,
            industry=_PERSON_INDUSTRY.pick(rng).name,
            province=province.name,
            city=city,
            region=province.region,
            is_key_account=False,
            level=_PERSON_LEVEL.pick(rng),
            source=source,
            campaign=one_of(rng, self.campaigns[source]),
            revenue_band="lt1m",
        )
        contact = self._contact(person, "本人", personal_email(rng, person), True, source)
        profile.contacts = [contact]
        profile.phone, profile.email = contact.phones[0], contact.email
        return profile

    def _company(self, province: data.Province, city: data.City, source: str) -> CustomerProfile:
        rng = self.rng
        size = _SIZE.pick(rng)
        industry = _INDUSTRY.pick(rng)
        name, brand, brand_pinyin, core = self._company_name(
            province.name, city.name, industry, size
        )
        low, high = size.employees
        profile = CustomerProfile(
            name=name,
            kind="company",
            short_name=brand,
            industry=industry.name,
            province=province.name,
            city=city.name,
            region=province.region,
            is_key_account=size.name in KEY_ACCOUNT_SIZES,
            level=_LEVEL[size.name].pick(rng),
            source=source,
            campaign=one_of(rng, self.campaigns[source]),
            employees=int(math.exp(rng.uniform(math.log(low), math.log(high + 1)))),
            revenue_band=_REVENUE[size.name].pick(rng),
            core_name=core,
        )
        domain = company_domain(rng, brand_pinyin, industry.domain_tags)
        if chance(rng, 0.75):
            profile.credit_code = self.numbers.credit_code(city.division_code)
        profile.custom_fields = {
            "官网": f"www.{domain}",
            "成立年份": between(rng, 1995, self.year - 1),
        }
        count = 1 if chance(rng, 0.6) else (2 if chance(rng, 0.85) else 3)
        for position in range(count):
            person = person_name(rng)
            contact = self._contact(
                person,
                _TITLE.pick(rng),
                f"{person.email_local_part}@{domain}",
                position == 0,
                source,
            )
            profile.contacts.append(contact)
        profile.phone, profile.email = profile.contacts[0].phones[0], profile.contacts[0].email
        return profile

    def _company_name(
        self, province: str, city: str, industry: data.Industry, size: SizeClass
    ) -> tuple[str, str, str, str]:
        """``杭州云帆网络科技有限公司`` and its variants, with its brand, the brand's pinyin and
        its core name (the duplicate key); drawn again when the core name is taken."""
        rng = self.rng
        while True:
            brand, brand_pinyin = _brand(rng)
            word = one_of(rng, industry.name_words)
            form = _LEGAL_FORM.pick(rng)
            if form == "集团有限公司" and size.name not in KEY_ACCOUNT_SIZES:
                form = "有限公司"
            style = rng.random()
            if style < 0.70:
                name = f"{city}{brand}{word}{form}"
            elif style < 0.82:
                name = f"{brand}（{city}）{word}{form}"
            elif style < 0.95 and province != city:
                name = f"{province}{brand}{word}{form}"
            else:
                name = f"{brand}{word}有限公司{city}分公司"
            core = normalize_company_name(name)
            if core not in self.core_names:
                self.core_names.add(core)
                return name, brand, brand_pinyin, core

    def _contact(
        self, person: PersonName, title: str, email: str, is_primary: bool, source: str
    ) -> ContactProfile:
        rng = self.rng
        phones = [self.numbers.mobile(rng)]
        if chance(rng, 0.1):
            phones.append(self.numbers.mobile(rng))
        birthday = None
        if chance(rng, 0.4):
            birthday = date(between(rng, 1965, 2000), between(rng, 1, 12), between(rng, 1, 28))
        important_dates = []
        if chance(rng, 0.05):
            moment = date(
                between(rng, self.year - 8, self.year - 1), between(rng, 1, 12), between(rng, 1, 28)
            )
            important_dates.append(
                {"label": one_of(rng, data.IMPORTANT_DATE_LABELS), "date": moment.isoformat()}
            )
        return ContactProfile(
            name=person.name,
            title=title,
            phones=phones,
            email=email,
            wechat=wechat_id(rng, person) if chance(rng, 0.7) else "",
            birthday=birthday,
            important_dates=important_dates,
            is_primary=is_primary,
            do_not_contact=chance(rng, 0.01),
            legal_basis=data.LEGAL_BASES.get(source, ""),
        )


def _duplicate_keys(profile: CustomerProfile) -> DuplicateKeys:
    """The keys the duplicate check stores, as ``duplicate_keys`` makes them; a company's
    name key is its core name, already computed to keep it unique."""
    keys = duplicate_keys(
        kind=profile.kind,
        phone=profile.phone,
        email=profile.email,
        credit_code=profile.credit_code,
    )
    return replace(keys, name=profile.core_name)


def _brand(rng: random.Random) -> tuple[str, str]:
    """Two characters (云帆), or three (鑫瑞达) for more variety, none repeated."""
    length = 2 if chance(rng, 0.6) else 3
    characters: list[tuple[str, str]] = []
    while len(characters) < length:
        character = one_of(rng, data.BRAND_CHARACTERS)
        if character not in characters:
            characters.append(character)
    return "".join(c for c, _ in characters), "".join(pinyin for _, pinyin in characters)


def _address(rng: random.Random, city: str) -> str:
    road = one_of(rng, data.ROADS)
    number = between(rng, 1, 999)
    if chance(rng, 0.5):
        return f"{city}市{road}{number}号{one_of(rng, data.BUILDINGS)}{between(rng, 1, 28)}楼"
    return f"{city}市{road}{number}号"
