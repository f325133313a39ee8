"""The demo organization as a plan: four sales departments, their managers, reps and pools.

Thirty reps with memorable logins (``rep01`` … ``rep30``) carry a default-sized demo. A
larger demo adds reps (``rep31`` …) in groups (``华东销售部·1组`` …) under their department, so
that no rep holds more than about 70% of their pool's holding cap.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Any

from highseas.demo import data
from highseas.demo.identity import person_name
from highseas.demo.profiles import key_account_share, region_share
from highseas.demo.sampling import between, chance
from highseas.demo.story import holding_share
from highseas.engine.limits import ClaimLimits
from highseas.engine.recycle import RecycleRules

DEMO_PASSWORD = "demo1234"
GROUP_SIZE = 15
CAP_USE = 0.7


@dataclass(frozen=True)
class TeamSpec:
    key: str
    name: str
    manager_username: str
    manager_name: str
    pool_name: str
    pool_description: str
    claim: ClaimLimits
    recycle: RecycleRules

    @property
    def provinces(self) -> tuple[str, ...]:
        return tuple(p.name for p in data.PROVINCES if self.key in {p.region, "key"})


TEAMS: tuple[TeamSpec, ...] = (
    TeamSpec(
        "east",
        "华东销售部",
        "manager_east",
        "周建华",
        "华东公海",
        "华东（上海、江苏、浙江、安徽、福建、江西、山东）的中小企业客户。",
        ClaimLimits(
            daily_quota=10,
            weekly_quota=40,
            holding_cap=200,
            reclaim_cooldown_days=7,
            max_frozen=20,
            max_freeze_days=30,
        ),
        RecycleRules(
            idle_days=15,
            no_deal_days=90,
            first_contact_hours=48,
            warn_days=3,
            level_overrides={"A": {"idle_days": 30}},
        ),
    ),
    TeamSpec(
        "south",
        "华南销售部",
        "manager_south",
        "黄志强",
        "华南公海",
        "华南与西南（广东、广西、海南、湖南、重庆、四川、贵州、云南、西藏）的中小企业客户。",
        ClaimLimits(
            daily_quota=8,
            weekly_quota=30,
            holding_cap=180,
            reclaim_cooldown_days=7,
            max_frozen=15,
            max_freeze_days=30,
        ),
        RecycleRules(
            idle_days=15,
            no_deal_days=60,
            first_contact_hours=24,
            warn_days=3,
            level_overrides={"A": {"idle_days": 30}, "B": {"idle_days": 20}},
        ),
    ),
    TeamSpec(
        "north",
        "华北销售部",
        "manager_north",
        "王立新",
        "华北公海",
        "华北、东北、华中与西北的中小企业客户。",
        ClaimLimits(
            daily_quota=10,
            weekly_quota=40,
            holding_cap=200,
            reclaim_cooldown_days=10,
            max_frozen=20,
            max_freeze_days=21,
        ),
        RecycleRules(
            idle_days=20,
            no_deal_days=90,
            first_contact_hours=48,
            warn_days=5,
            level_overrides={"A": {"idle_days": 30}},
        ),
    ),
    TeamSpec(
        "key",
        "大客户部",
        "manager_key",
        "陈思远",
        "全国大客户池",
        "全国范围内 300 人以上的大型企业客户。",
        ClaimLimits(
            daily_quota=3,
            weekly_quota=10,
            holding_cap=80,
            reclaim_cooldown_days=30,
            max_frozen=10,
            max_freeze_days=60,
        ),
        RecycleRules(
            idle_days=30,
            no_deal_days=180,
            first_contact_hours=72,
            warn_days=7,
            exempt_open_deal=True,
            level_overrides={"A": {"idle_days": 45}},
        ),
    ),
)
TEAM_BY_KEY = {team.key: team for team in TEAMS}

# username, display name, team, level, and who is away: left N days ago, or on leave
# (first and last day, relative to today).
_BASE_REPS: tuple[tuple[str, str, str, str, int | None, tuple[int, int] | None], ...] = (
    ("rep01", "李明", "east", "senior", None, None),
    ("rep02", "张婷", "east", "senior", None, None),
    ("rep03", "王磊", "east", "junior", None, None),
    ("rep04", "刘洋", "east", "junior", None, None),
    ("rep05", "陈静", "east", "senior", None, None),
    ("rep06", "杨帆", "east", "junior", None, None),
    ("rep07", "赵敏", "east", "junior", None, None),
    ("rep08", "吴昊", "east", "senior", None, None),
    ("rep09", "孙悦", "east", "junior", None, None),
    ("rep10", "徐浩然", "east", "junior", 38, None),
    ("rep11", "林晓燕", "south", "senior", None, None),
    ("rep12", "梁伟", "south", "junior", None, None),
    ("rep13", "何嘉欣", "south", "senior", None, None),
    ("rep14", "郑凯", "south", "junior", None, None),
    ("rep15", "谢婉婷", "south", "junior", None, None),
    ("rep16", "罗俊", "south", "senior", None, (-1, 6)),
    ("rep17", "马超", "north", "senior", None, None),
    ("rep18", "高雪", "north", "junior", None, None),
    ("rep19", "郭鹏", "north", "senior", None, None),
    ("rep20", "孟琳", "north", "junior", None, None),
    ("rep21", "韩宇", "north", "junior", None, (7, 14)),
    ("rep22", "冯佳怡", "north", "senior", None, None),
    ("rep23", "宋涛", "north", "junior", None, None),
    ("rep24", "于洁", "north", "junior", None, None),
    ("rep25", "田野", "north", "junior", 52, None),
    ("rep26", "朱晨", "key", "senior", None, None),
    ("rep27", "胡歆", "key", "senior", None, None),
    ("rep28", "郝建国", "key", "senior", None, None),
    ("rep29", "沈嘉怡", "key", "junior", None, None),
    ("rep30", "唐睿", "key", "senior", None, None),
)


@dataclass(frozen=True)
class RepSpec:
    username: str
    display_name: str
    team_key: str
    group: int  # 0: the department itself; n: its n-th group (extra reps of a large demo)
    level: str
    skills: dict[str, Any]
    left_days_ago: int | None = None
    leave_days: tuple[int, int] | None = None

    @property
    def is_employed(self) -> bool:
        return self.left_days_ago is None


def plan_reps(rng: random.Random, customers: int) -> list[RepSpec]:
    """The thirty named reps, plus enough extra reps for ``customers``."""
    reps = [
        RepSpec(username, name, team, 0, level, _skills(rng, TEAM_BY_KEY[team]), left, leave)
        for username, name, team, level, left, leave in _BASE_REPS
    ]
    for team in TEAMS:
        employed = sum(1 for rep in reps if rep.team_key == team.key and rep.is_employed)
        for position in range(max(0, reps_needed(team, customers) - employed)):
            reps.append(
                RepSpec(
                    f"rep{len(reps) + 1:02d}",
                    person_name(rng).name,
                    team.key,
                    1 + position // GROUP_SIZE,
                    "senior" if chance(rng, 0.35) else "junior",
                    _skills(rng, team),
                )
            )
    return reps


def reps_needed(team: TeamSpec, customers: int) -> int:
    """Reps who keep the team's expected holdings within ``CAP_USE`` of the holding cap."""
    if team.claim.holding_cap is None:
        return 1
    share = key_account_share() if team.key == "key" else region_share(team.key)
    expected = customers * share * holding_share()
    return math.ceil(expected / (CAP_USE * team.claim.holding_cap))


def group_name(team: TeamSpec, group: int) -> str:
    return f"{team.name}·{group}组"


def is_group_name(team: TeamSpec, name: str) -> bool:
    prefix = f"{team.name}·"
    return name.startswith(prefix) and name.endswith("组") and name[len(prefix) : -1].isdigit()


def _skills(rng: random.Random, team: TeamSpec) -> dict[str, Any]:
    industries = [industry.name for industry in data.INDUSTRIES]
    provinces = team.provinces[:12] if team.key == "key" else team.provinces
    return {
        "industries": rng.sample(industries, between(rng, 2, 3)),
        "regions": rng.sample(provinces, between(rng, 2, min(4, len(provinces)))),
        "product_lines": rng.sample(data.PRODUCT_LINES, between(rng, 1, 2)),
    }
