"""A lived-in East China team for the page tests, built only through the real services.

华东公海: claims 3 a day, 20 a week, a cap of 30; recycled after 30 idle days, 90 days
without a won deal, or 48 hours without a first follow-up; owners warned 3 days ahead.
REP_A holds customers at every point of the recycle clock; REP_B holds a few and has a
claim waiting in 华东重点客户池 (claims there need approval); past claims, follow-ups and
one real sweep give the dashboards a history.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.utils import timezone

from highseas.accounts.models import User
from highseas.customers.models import Customer
from highseas.intake import creation as intake
from highseas.notify.services import notify
from highseas.pools import followups, ownership
from highseas.pools import services as pools
from highseas.pools.models import Pool
from highseas.pools.sweep import sweep

EAST_CLAIMS = {"daily_quota": 3, "weekly_quota": 20, "holding_cap": 30, "reclaim_cooldown_days": 7}
EAST_RECYCLE = {"idle_days": 30, "no_deal_days": 90, "first_contact_hours": 48, "warn_days": 3}

TARGET = "杭州云帆网络科技有限公司"
POOLED = [
    (TARGET, "浙江", "杭州", "软件和信息技术服务", "A", "web_form", "13800138001"),
    (
        "杭州数联信息技术有限公司",
        "浙江",
        "杭州",
        "软件和信息技术服务",
        "B",
        "exhibition",
        "13900139002",
    ),
    ("宁波海曙精工机械有限公司", "浙江", "宁波", "制造业", "B", "referral", "13700137003"),
    ("温州瓯江鞋业有限公司", "浙江", "温州", "制造业", "C", "cold_call", "13600136004"),
    ("嘉兴禾城电子商务有限公司", "浙江", "嘉兴", "批发零售", "B", "web_form", "13500135005"),
    ("绍兴越州纺织印染有限公司", "浙江", "绍兴", "制造业", "C", "exhibition", "18800188006"),
    ("苏州恒达精密机械有限公司", "江苏", "苏州", "制造业", "A", "exhibition", "18900189007"),
    ("南京秦淮智慧物流有限公司", "江苏", "南京", "物流", "B", "advertising", "18600186008"),
    ("无锡太湖新材料股份有限公司", "江苏", "无锡", "新能源", "B", "web_form", "18500185009"),
    ("常州龙城光伏科技有限公司", "江苏", "常州", "新能源", "A", "referral", "15800158010"),
    ("上海浦江医疗器械有限公司", "上海", "上海", "医疗健康", "A", "referral", "15900159011"),
    ("上海申通教育科技有限公司", "上海", "上海", "教育培训", "C", "advertising", "15000150012"),
    ("合肥科讯软件有限公司", "安徽", "合肥", "软件和信息技术服务", "C", "import", "15100151013"),
    ("福州闽江食品贸易有限公司", "福建", "福州", "批发零售", "C", "cold_call", "15200152014"),
    ("济南泉城建筑工程有限公司", "山东", "济南", "建筑工程", "B", "partner", "15300153015"),
    ("青岛海韵酒店管理有限公司", "山东", "青岛", "餐饮酒店", "C", "web_form", "17700177016"),
    ("南昌赣江商务咨询有限公司", "江西", "南昌", "商务服务", "C", "other", "17800178017"),
]

# name, province, city, industry, level, source, days owned, days since the last follow-up
HELD_BY_A = [
    ("杭州西溪数据科技有限公司", "浙江", "杭州", "软件和信息技术服务", "A", "web_form", 40, 28),
    ("苏州博远电子有限公司", "江苏", "苏州", "制造业", "B", "exhibition", 35, 29.5),
    ("宁波港联物流有限公司", "浙江", "宁波", "物流", "B", "referral", 60, 5),
    ("上海汇智医疗科技有限公司", "上海", "上海", "医疗健康", "A", "referral", 88, 2),
    ("南京紫金教育咨询有限公司", "江苏", "南京", "教育培训", "C", "advertising", 10, 3),
    ("无锡梁溪机电设备有限公司", "江苏", "无锡", "制造业", "C", "cold_call", 1, None),
]
HELD_BY_B = [
    ("杭州之江电气有限公司", "浙江", "杭州", "制造业", "B", "referral", 20, 4),
    ("上海外滩商贸有限公司", "上海", "上海", "批发零售", "C", "web_form", 12, 6),
]
NOTES = [
    ("call", "电话沟通采购预算，对方计划下季度上线", "需求明确"),
    ("visit", "上门拜访技术负责人，演示了核心功能", "客户同意试用"),
    ("wechat", "微信发送报价单和行业案例", "等待回复"),
]


def _customer(actor: User, row: tuple[Any, ...], **extra: Any) -> Customer:
    name, province, city, industry, level, source = row[:6]
    fields = {
        "name": name,
        "kind": "person" if len(name) <= 3 else "company",
        "province": province,
        "city": city,
        "industry": industry,
        "level": level,
        "source": source,
        "employees": 50 + len(name) * 7,
    }
    return intake.create_customer(
        actor=actor, fields={**fields, **extra.pop("fields", {})}, **extra
    ).customer


def _follow_up(actor: User, customer: Customer, days_ago: float, index: int) -> None:
    now = timezone.now()
    kind, note, outcome = NOTES[index % len(NOTES)]
    followups.log_activity(
        actor,
        customer.pk,
        kind=kind,
        note=note,
        outcome=outcome,
        occurred_at=now - timedelta(days=days_ago),
        next_contact_at=now + timedelta(days=1 + index % 3, hours=2),
        now=now,
    )


def _hold(owner: User, pool: Pool, rows: list[tuple[Any, ...]], prefix: str) -> list[Customer]:
    now = timezone.now()
    held = []
    for index, row in enumerate(rows):
        days, last = row[6], row[7]
        customer = _customer(
            owner,
            row,
            owner=owner,
            pool=pool,
            now=now - timedelta(days=days),
            fields={
                "phone": f"{prefix}{index:04d}",
                "email": f"{owner.username}.{index}@example.com",
            },
        )
        if last is not None:
            _follow_up(owner, customer, last, index)
        held.append(customer)
    return held


def _history(org: dict[str, Any], pool: Pool) -> None:
    """Claims 14-20 days ago; the ones nobody followed up are recycled by the closing sweep."""
    now = timezone.now()
    for index, rep in enumerate([org["rep_a"], org["rep_b"]] * 3 + [org["rep_b"]]):
        past = now - timedelta(days=20 - index)
        row = (f"历史客户{index + 1}号贸易有限公司", "浙江", "湖州", "批发零售", "C", "import")
        customer = _customer(org["admin"], row, pool=pool, now=past - timedelta(days=5))
        ownership.claim(rep, customer.pk, now=past)
        if index % 2:
            followups.log_activity(
                rep, customer.pk, kind="call", note="初次电话沟通", occurred_at=past, now=now
            )


def build_world(org: dict[str, Any]) -> dict[str, Any]:
    admin, east, manager = org["admin"], org["east"], org["east_manager"]
    east_pool = pools.save_pool(
        org["east_pool"],
        claim_policy=EAST_CLAIMS,
        recycle_policy=EAST_RECYCLE,
        member_teams=[east],
        admins=[manager],
    )
    vip = pools.save_pool(
        Pool(name="华东重点客户池", description="年营业额过亿的重点客户，领取需经理审批。"),
        claim_policy={"requires_approval": True, "approval_expiry_hours": 48},
        recycle_policy=EAST_RECYCLE,
        member_teams=[east],
        admins=[manager],
    )
    # fresh instances: a Pool keeps the policy it cached before save_pool changed it
    east_pool, vip = Pool.objects.get(pk=east_pool.pk), Pool.objects.get(pk=vip.pk)
    _history(org, east_pool)
    pooled = {
        row[0]: _customer(admin, row, pool=east_pool, fields={"phone": row[6]}) for row in POOLED
    }
    held_a = _hold(org["rep_a"], east_pool, HELD_BY_A, "1361111")
    held_b = _hold(org["rep_b"], east_pool, HELD_BY_B, "1362222")
    followups.add_contact(
        org["rep_a"],
        held_a[0].pk,
        name="陈思远",
        title="信息中心主任",
        phones=["13912345678"],
        email="chensy@example.com",
        is_primary=True,
    )
    followups.open_deal(org["rep_a"], held_a[2].pk, amount=Decimal("128000"), name="数据平台一期")
    won = followups.open_deal(org["rep_b"], held_b[0].pk, amount=Decimal("56000"), name="年度服务")
    followups.close_deal(org["rep_b"], held_b[0].pk, won.pk, stage="won")
    frozen = held_a[4]
    ownership.freeze(
        org["rep_a"], frozen.pk, until=timezone.now() + timedelta(days=10), reason="客户走采购流程"
    )
    vip_rows = [
        ("浙江钱塘集团股份有限公司", "浙江", "杭州", "制造业", "A", "referral"),
        ("江苏长江能源控股有限公司", "江苏", "南京", "新能源", "A", "exhibition"),
    ]
    vip_customers = [_customer(admin, row, pool=vip) for row in vip_rows]
    request = ownership.claim(org["rep_b"], vip_customers[0].pk, reason="老客户转介绍，已约拜访")
    notify(
        org["rep_a"].pk,
        "next_contact",
        "请跟进客户：宁波港联物流有限公司",
        "计划今天回访",
        held_a[2].pk,
    )
    sweep(timezone.now())  # as the scheduler would: recycles the forgotten claims, warns owners
    return {
        **org,
        "east_pool": east_pool,
        "vip_pool": vip,
        "target": pooled[TARGET],
        "pooled": pooled,
        "held_a": held_a,
        "held_b": held_b,
        "frozen": frozen,
        "request": request.request,
    }
