"""Writes for users and teams. API and web views call these, never the models directly."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from highseas.accounts.models import RepLevel, RepProfile, Role, Team, User


@transaction.atomic
def create_team(*, name: str, parent: Team | None = None, manager: User | None = None) -> Team:
    team = Team(name=name, parent=parent, manager=manager)
    team.save()
    return team


@transaction.atomic
def create_user(
    *,
    username: str,
    password: str,
    display_name: str = "",
    role: str = Role.REP,
    team: Team | None = None,
    level: str = RepLevel.JUNIOR,
    email: str = "",
    **profile: Any,
) -> User:
    user = User(
        username=username,
        display_name=display_name,
        role=role,
        team=team,
        email=email,
        is_staff=role == Role.ADMIN,
        is_superuser=role == Role.ADMIN,
    )
    user.set_password(password)
    user.save()
    RepProfile.objects.create(user=user, level=level, **profile)
    return user


@transaction.atomic
def update_user(
    user: User, *, password: str | None = None, level: str | None = None, **fields: Any
) -> User:
    for name, value in fields.items():
        setattr(user, name, value)
    if "role" in fields:
        user.is_staff = user.is_superuser = user.role == Role.ADMIN
    if password:
        user.set_password(password)
    user.save()
    if level is not None:
        RepProfile.objects.update_or_create(user=user, defaults={"level": level})
    return user
