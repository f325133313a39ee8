"""The table of search cases (issue: find anything, fast): customers to plant and what each
query must find, checked by the tests at small scale and by ``highseas bench search`` among
a million customers, on SQLite and PostgreSQL.

The planted customers are pooled and written last (the newest), so among the customers of
their own tier and status they come first. What a case expects:

- ``top``: the planted customer is the first result;
- ``page``: it is on the first page (among a million, a brand prefix has company);
- ``contains``: every result's name contains the query (two characters in the middle of
  names: a million customers have hundreds of thousands of them), and the first page is
  full when the dataset is large.
"""

from __future__ import annotations

from dataclasses import dataclass

from highseas.accounts.models import User
from highseas.customers.models import Customer
from highseas.intake.creation import create_customer
from highseas.pools.followups import add_contact
from highseas.pools.models import Pool


@dataclass(frozen=True)
class Planted:
    key: str
    name: str
    contact: str = ""
    phone: str = ""
    email: str = ""


@dataclass(frozen=True)
class Case:
    kind: str  # what the case is about, for the report
    query: str
    expect: str  # top, page or contains
    key: str = ""  # the planted customer expected (top, page); for contains, one that must be
    # among the hits when the dataset is small


PLANTED = (
    Planted("huawei", "华为技术有限公司", "欧阳明远", "0755-28780808"),
    Planted("tencent", "深圳市腾讯计算机系统有限公司", "司马清扬"),
    Planted("xiaomi", "北京小米科技有限责任公司", phone="010-60606666"),
    Planted("bytedance", "北京字节跳动科技有限公司", email="bd@zijie-demo.example.com"),
    Planted("longjing", "杭州西湖龙井茶业有限公司", "诸葛春雨"),
)

CASES = (
    Case("two-character brand", "华为", "page", "huawei"),
    Case("two-character brand", "腾讯", "page", "tencent"),
    Case("two-character brand", "小米", "page", "xiaomi"),
    Case("two characters inside names", "科技", "contains", "xiaomi"),
    Case("two characters inside names", "杭州", "contains", "longjing"),
    Case("one character inside names", "龙", "contains", "longjing"),
    Case("brand without region and legal form", "字节跳动", "page", "bytedance"),
    Case("brand without region and legal form", "西湖龙井", "page", "longjing"),
    Case("full name", "北京字节跳动科技有限公司", "top", "bytedance"),
    Case("full name", "华为技术有限公司", "top", "huawei"),
    Case("region-first name", "杭州西湖龙井", "page", "longjing"),
    Case("region-first name", "深圳腾讯计算机", "page", "tencent"),
    Case("pinyin", "huawei", "page", "huawei"),
    Case("pinyin", "zijietiaodongkeji", "top", "bytedance"),
    Case("pinyin initials", "hwjs", "page", "huawei"),
    Case("pinyin initials", "zjtdkj", "top", "bytedance"),
    Case("contact name", "欧阳明远", "top", "huawei"),
    Case("contact name", "诸葛春雨", "top", "longjing"),
    Case("phone", "+86 755 2878 0808", "top", "huawei"),
    Case("phone", "010 6060 6666", "top", "xiaomi"),
    Case("e-mail", "BD@zijie-demo.example.com", "top", "bytedance"),
)


def verdict(case: Case, names: list[str], planted_id: int | None, ids: list[int]) -> bool:
    """Whether a first page (``names`` and ``ids`` of its rows) meets the case."""
    if case.expect == "top":
        return bool(ids) and ids[0] == planted_id
    if case.expect == "page":
        return planted_id in ids
    return bool(names) and all(case.query in name for name in names)


def plant(actor: User, pool: Pool) -> dict[str, int]:
    """Create the planted customers through the services (pooled, with their contacts); their
    ids by key. Idempotent: a customer or contact planted by an earlier run is kept."""
    planted: dict[str, int] = {}
    for spec in PLANTED:
        earlier = Customer.objects.filter(name=spec.name, merged_into=None).order_by("pk").first()
        if earlier is None:
            fields = {"name": spec.name, "phone": spec.phone, "email": spec.email}
            fields = {name: value for name, value in fields.items() if value}
            earlier = create_customer(actor=actor, fields=fields, pool=pool, route=False).customer
        if spec.contact and not earlier.contacts.filter(name=spec.contact).exists():
            add_contact(actor, earlier.pk, name=spec.contact)
        planted[spec.key] = earlier.pk
    return planted
