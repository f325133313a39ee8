"""Writes for users, teams and API tokens. API and web views call these, never the models.

``create_team`` / ``create_user`` / ``update_user`` are the building blocks that `init`, the
demo and the tests use; the commands an edge calls on someone's behalf (``add_team``,
``add_user``, ``change_user``) take that actor first and check that they may manage people.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from highseas.accounts.audit import record_audit
from highseas.accounts.models import AuditLog, RepLevel, RepProfile, Role, Team, User
from highseas.accounts.tokens import issue_token, revoke_token, revoke_tokens, tokens_of
from highseas.customers.models import Customer
from highseas.engine.errors import ErrorCode, HighSeasError

__all__ = [
    "add_team",
    "add_user",
    "change_team",
    "change_user",
    "create_team",
    "create_user",
    "issue_token",
    "may_manage_people",
    "require_handed_over",
    "require_people_admin",
    "revoke_token",
    "revoke_tokens",
    "tokens_of",
    "update_user",
]


def may_manage_people(actor: User) -> bool:
    """Users and teams are the admins' to create and change."""
    return bool(actor.is_authenticated and actor.is_active and actor.is_admin)


def require_people_admin(actor: User) -> None:
    if not may_manage_people(actor):
        raise HighSeasError(
            ErrorCode.PERMISSION_DENIED, _("Only an administrator may manage users and teams.")
        )


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
    user: User,
    *,
    password: str | None = None,
    level: str | None = None,
    actor: User | None = None,
    **fields: Any,
) -> User:
    """Change a user. A new password, a new role or a deactivation is an audit row and
    revokes every API token of the user, in the same transaction."""
    before_role, was_active = user.role, user.is_active
    if user.pk:
        before_role, was_active = (
            User.objects.filter(pk=user.pk).values_list("role", "is_active").get()
        )
    for name, value in fields.items():
        setattr(user, name, value)
    if was_active and not user.is_active:
        require_handed_over(user)
    if "role" in fields or user.role != before_role:
        user.is_staff = user.is_superuser = user.role == Role.ADMIN
    if password:
        user.set_password(password)
    user.save()
    if level is not None:
        RepProfile.objects.update_or_create(user=user, defaults={"level": level})
    changes: list[tuple[AuditLog.Action, dict[str, Any]]] = []
    if user.role != before_role:
        changes.append((AuditLog.Action.ROLE_CHANGE, {"before": before_role, "after": user.role}))
    if password:
        changes.append((AuditLog.Action.PASSWORD_CHANGE, {}))
    if was_active and not user.is_active:
        changes.append((AuditLog.Action.USER_DEACTIVATED, {}))
    for action, detail in changes:
        record_audit(actor, action, target_type="user", target_id=user.pk, **detail)
    if changes:
        revoke_tokens(user, actor=actor, reason=str(changes[0][0]))
    return user


def require_handed_over(user: User) -> None:
    """A rep who still owns customers is handed over (离职交接) before being deactivated."""
    owned = Customer.objects.filter(owner_id=user.pk, merged_into__isnull=True).count()
    if owned:
        raise HighSeasError(
            ErrorCode.HANDOVER_REQUIRED,
            _("Hand over this user's customers before deactivating them."),
            owned=owned,
        )


def add_team(actor: User, **fields: Any) -> Team:
    require_people_admin(actor)
    return create_team(**fields)


@transaction.atomic
def change_team(actor: User, team: Team, **fields: Any) -> Team:
    require_people_admin(actor)
    for name, value in fields.items():
        setattr(team, name, value)
    team.save()
    return team


def add_user(actor: User, **fields: Any) -> User:
    require_people_admin(actor)
    return create_user(**fields)


def change_user(actor: User, user: User, **fields: Any) -> User:
    require_people_admin(actor)
    return update_user(user, actor=actor, **fields)
