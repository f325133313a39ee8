"""Writes the demo organization: teams, managers, reps with profiles, pools with policies."""

from __future__ import annotations

from dataclasses import asdict
from datetime import timedelta

from django.contrib.auth.hashers import make_password
from django.db import transaction

from highseas.accounts.models import RepLevel, RepProfile, Role, Team, User
from highseas.accounts.services import create_team
from highseas.demo.clock import DAY, HOUR, DemoClock, to_datetime
from highseas.demo.roster import DEMO_PASSWORD, TEAMS, RepSpec, TeamSpec, group_name
from highseas.demo.world import Actor, DemoWorld, PoolWorld, Rep
from highseas.pools.models import Pool
from highseas.pools.policies import RECYCLE_RULE_FIELDS
from highseas.pools.services import save_pool


@transaction.atomic
def build_org(reps: list[RepSpec], clock: DemoClock, admin: User, months: int) -> DemoWorld:
    """Create the teams, users and pools of the plan and return them as a ``DemoWorld``."""
    departments = {team.key: create_team(name=team.name) for team in TEAMS}
    groups = _create_groups(reps, departments)
    password = make_password(DEMO_PASSWORD)  # hashed once: Argon2 is slow on purpose
    managers = _create_managers(departments, password, clock)
    teams = [groups.get((rep.team_key, rep.group)) or departments[rep.team_key] for rep in reps]
    rep_users = _create_users(
        [_rep_user(rep, team, password, clock) for rep, team in zip(reps, teams, strict=True)],
        [_rep_profile(rep, clock) for rep in reps],
    )
    world = DemoWorld(clock, months, Actor(admin.pk, admin.username), {}, len(reps))
    for team in TEAMS:
        world.pools[team.key] = _pool_world(team, departments[team.key], managers[team.key])
    for index, (spec, user) in enumerate(zip(reps, rep_users, strict=True)):
        pool = world.pools[spec.team_key]
        (pool.reps if spec.is_employed else pool.departed).append(_rep(index, spec, user, clock))
    return world


def _create_groups(
    reps: list[RepSpec], departments: dict[str, Team]
) -> dict[tuple[str, int], Team]:
    keys = sorted({(rep.team_key, rep.group) for rep in reps if rep.group})
    teams = {team.key: team for team in TEAMS}
    return {
        (key, group): create_team(name=group_name(teams[key], group), parent=departments[key])
        for key, group in keys
    }


def _create_managers(
    departments: dict[str, Team], password: str, clock: DemoClock
) -> dict[str, User]:
    """One manager per department, set as its manager."""
    managers = _create_users(
        [_manager(team, departments[team.key], password, clock) for team in TEAMS],
        [RepProfile(level=RepLevel.SENIOR) for _ in TEAMS],
    )
    for team, manager in zip(TEAMS, managers, strict=True):
        departments[team.key].manager = manager
        departments[team.key].save()
    return {team.key: manager for team, manager in zip(TEAMS, managers, strict=True)}


def _pool_world(team: TeamSpec, department: Team, manager: User) -> PoolWorld:
    pool = _save_pool(team, department, manager)
    manager_actor = Actor(manager.pk, manager.username)
    return PoolWorld(pool.pk, team.key, pool.name, team.claim, team.recycle, manager_actor, [], [])


def _create_users(users: list[User], profiles: list[RepProfile]) -> list[User]:
    """Insert users and their profiles in bulk; the ids are read back by username."""
    User.objects.bulk_create(users, batch_size=1000)
    ids = dict(
        User.objects.filter(username__in=[u.username for u in users]).values_list("username", "id")
    )
    for user, profile in zip(users, profiles, strict=True):
        user.pk = ids[user.username]
        profile.user = user
    RepProfile.objects.bulk_create(profiles, batch_size=1000)
    return users


def _manager(team: TeamSpec, department: Team, password: str, clock: DemoClock) -> User:
    return User(
        username=team.manager_username,
        display_name=team.manager_name,
        role=Role.MANAGER,
        team=department,
        password=password,
        email=f"{team.manager_username}@example.com",
        date_joined=to_datetime(clock.now - 720 * DAY),
    )


def _rep_user(rep: RepSpec, team: Team, password: str, clock: DemoClock) -> User:
    return User(
        username=rep.username,
        display_name=rep.display_name,
        role=Role.REP,
        team=team,
        password=password,
        email=f"{rep.username}@example.com",
        is_active=rep.is_employed,
        date_joined=to_datetime(clock.now - 400 * DAY),
    )


def _rep_profile(rep: RepSpec, clock: DemoClock) -> RepProfile:
    today = clock.local_date(clock.now)
    leave_from = leave_until = None
    if rep.leave_days is not None:
        leave_from = today + timedelta(days=rep.leave_days[0])
        leave_until = today + timedelta(days=rep.leave_days[1])
    return RepProfile(
        level=rep.level,
        skills=rep.skills,
        is_active=rep.is_employed,
        leave_from=leave_from,
        leave_until=leave_until,
    )


def _rep(index: int, spec: RepSpec, user: User, clock: DemoClock) -> Rep:
    rep = Rep(index, Actor(user.pk, user.username))
    today = clock.local_day(clock.now)
    if spec.left_days_ago is not None:
        rep.departed_at = clock.start_of_local_day(today - spec.left_days_ago) + 10 * HOUR
    if spec.leave_days is not None:
        rep.leave_from = clock.start_of_local_day(today + spec.leave_days[0])
        rep.leave_until = clock.start_of_local_day(today + spec.leave_days[1] + 1) - 1
    return rep


def _save_pool(team: TeamSpec, department: Team, manager: User) -> Pool:
    return save_pool(
        Pool(name=team.pool_name, description=team.pool_description),
        claim_policy=asdict(team.claim),
        recycle_policy={
            **{name: getattr(team.recycle, name) for name in RECYCLE_RULE_FIELDS},
            "exempt_levels": sorted(team.recycle.exempt_levels),
        },
        member_teams=[department],
        admins=[manager],
    )
