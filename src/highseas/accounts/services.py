"""Writes for users, teams, rep profiles and API tokens. API and web views call these, never
the models.

``create_team`` / ``create_user`` / ``update_user`` are the building blocks that `init`, the
demo and the tests use; the commands an edge calls on someone's behalf (``add_team``,
``change_team``, ``add_user``, ``change_user``, ``change_profile``) take that actor first and
check that they may manage those people:

- admins manage everyone and every team;
- managers manage the users and teams of their team subtree (``managed_team_ids``): they may
  create users and sub-teams there, never move anyone or anything out of it, never grant a
  role above their own (so never admin), and never change their own role, their own
  deactivation or who manages the teams they manage;
- everyone else manages nobody.

Each command writes its audit rows (before/after) in its own transaction, so a refused
command leaves no row.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import Count, F, Q, QuerySet
from django.utils.translation import gettext as _

from highseas.accounts.audit import record_audit
from highseas.accounts.models import AuditLog, RepLevel, RepProfile, Role, Team, User
from highseas.accounts.tokens import issue_token, revoke_token, revoke_tokens, tokens_of
from highseas.accounts.visibility import subtree_team_ids
from highseas.customers.choices import CustomerStatus
from highseas.customers.models import Customer
from highseas.engine.errors import ErrorCode, HighSeasError

__all__ = [
    "add_team",
    "add_user",
    "change_profile",
    "change_team",
    "change_user",
    "create_team",
    "create_user",
    "grantable_roles",
    "held_customers",
    "issue_token",
    "manageable_teams",
    "manageable_users",
    "managed_team_ids",
    "may_manage_people",
    "may_manage_team_people",
    "require_handed_over",
    "require_people_admin",
    "revoke_token",
    "revoke_tokens",
    "tokens_of",
    "update_user",
]


def may_manage_people(actor: User) -> bool:
    """Who may create and change users and teams anywhere (and through the API): admins."""
    return bool(actor.is_authenticated and actor.is_active and actor.is_admin)


def require_people_admin(actor: User) -> None:
    if not may_manage_people(actor):
        raise HighSeasError(
            ErrorCode.PERMISSION_DENIED, _("Only an administrator may manage users and teams.")
        )


def may_manage_team_people(actor: User) -> bool:
    """Who may manage some people in the console: admins, and managers for their subtree."""
    return may_manage_people(actor) or bool(
        actor.is_authenticated and actor.is_active and actor.is_manager
    )


def _require_people_manager(actor: User) -> None:
    if not may_manage_team_people(actor):
        raise HighSeasError(
            ErrorCode.PERMISSION_DENIED,
            _("Only a manager or an administrator may manage users and teams."),
        )


def managed_team_ids(actor: User) -> set[int] | None:
    """The teams whose people ``actor`` manages: ``None`` for every team (an admin)."""
    if may_manage_people(actor):
        return None
    return subtree_team_ids(actor) if may_manage_team_people(actor) else set()


def manageable_teams(actor: User) -> QuerySet[Team]:
    """The teams ``actor`` may change, in tree order, each with its member count."""
    teams = Team.objects.select_related("manager", "parent").annotate(
        member_count=Count("members", distinct=True)
    )
    ids = managed_team_ids(actor)
    return teams.order_by("path") if ids is None else teams.filter(pk__in=ids).order_by("path")


def manageable_users(actor: User) -> QuerySet[User]:
    """The users ``actor`` may change, each with ``holdings``: the customers they hold
    (owned or frozen), the figure a departure hands over."""
    held = Q(
        customers__status__in=[CustomerStatus.OWNED, CustomerStatus.FROZEN],
        customers__merged_into__isnull=True,
    )
    users = User.objects.select_related("team", "profile").annotate(
        holdings=Count("customers", filter=held)
    )
    ids = managed_team_ids(actor)
    return users if ids is None else users.filter(team_id__in=ids)


ROLE_RANK = {Role.REP: 0, Role.MANAGER: 1, Role.ADMIN: 2}


def _rank(user: User) -> int:
    return 2 if user.is_admin else ROLE_RANK.get(Role(user.role), 0)


def grantable_roles(actor: User) -> list[str]:
    """The roles ``actor`` may give: up to their own, and admin only by an admin."""
    return [role for role, rank in ROLE_RANK.items() if rank <= _rank(actor)]


def _refuse(detail: str) -> HighSeasError:
    return HighSeasError(ErrorCode.PERMISSION_DENIED, detail)


def _invalid(field: str, detail: str) -> HighSeasError:
    return HighSeasError(ErrorCode.VALIDATION_ERROR, detail, errors={field: [detail]})


def _require_role(actor: User, role: Any) -> None:
    if role not in Role.values:
        raise _invalid("role", _("Choose a role."))
    if role not in grantable_roles(actor):
        raise _refuse(_("You may not give a role above your own."))


def _require_team(actor: User, team: Team | None) -> None:
    ids = managed_team_ids(actor)
    if ids is not None and (team is None or team.pk not in ids):
        raise _refuse(_("You may only put people and teams inside the teams you manage."))


def _require_user(actor: User, user: User) -> None:
    ids = managed_team_ids(actor)
    if ids is not None and (user.team_id not in ids or _rank(user) > _rank(actor)):
        raise _refuse(_("You may only manage the people of the teams you manage."))


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


USER_FACTS = ("display_name", "email", "role", "team_id", "is_active")


def _user_facts(user_id: int) -> dict[str, Any]:
    """What the audit log keeps of a user before and after a change (never the password)."""
    found: dict[str, Any] = (
        User.objects.filter(pk=user_id).values(*USER_FACTS, level=F("profile__level")).get()
    )
    found["team"] = found.pop("team_id")
    return found


def _changes(before: dict[str, Any], after: dict[str, Any]) -> tuple[dict[str, Any], ...]:
    names = [name for name in after if before.get(name) != after[name]]
    return {n: before.get(n) for n in names}, {n: after[n] for n in names}


def _audit_created(
    actor: User, action: AuditLog.Action, target_type: str, target_id: int, facts: dict[str, Any]
) -> None:
    """One audit row for a user or team ``actor`` created, with its facts after."""
    record_audit(
        actor, action, target_type=target_type, target_id=target_id, before={}, after=facts
    )


def _audit_changed(
    actor: User,
    action: AuditLog.Action,
    target_type: str,
    target_id: int,
    before: dict[str, Any],
    after: dict[str, Any],
) -> tuple[dict[str, Any], ...]:
    """One audit row with the facts that changed, their values before and after (none when
    nothing changed); those values."""
    old, new = _changes(before, after)
    if new:
        record_audit(
            actor, action, target_type=target_type, target_id=target_id, before=old, after=new
        )
    return old, new


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
    revokes every API token of the user, in the same transaction. With an ``actor`` (a change
    made on someone's behalf), the other changed facts (name, e-mail, team, level, a
    reactivation) are one ``user_change`` row with their values before and after."""
    before_role, was_active = user.role, user.is_active
    before: dict[str, Any] = {}
    if user.pk:
        before = _user_facts(user.pk)
        before_role, was_active = before["role"], before["is_active"]
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
    if actor is not None and before:
        after = _user_facts(user.pk)
        said = ["role"]  # the role_change row says it
        if was_active and not user.is_active:
            said.append("is_active")  # and the user_deactivated row this
        for name in said:
            after.pop(name, None)
        _audit_changed(actor, AuditLog.Action.USER_CHANGE, "user", user.pk, before, after)
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


def _team_facts(team: Team) -> dict[str, Any]:
    return {"name": team.name, "parent": team.parent_id, "manager": team.manager_id}


def _require_team_manager(actor: User, manager: User | None) -> None:
    """A team's manager is a user with the manager (or admin) role whom ``actor`` manages."""
    if manager is None:
        return
    if manager.role not in (Role.MANAGER, Role.ADMIN) or not manager.is_active:
        raise _invalid("manager", _("A team's manager is an active user with the manager role."))
    if manager.pk != actor.pk:
        _require_user(actor, manager)


def _clean_name(raw: Any) -> str:
    name = str(raw or "").strip()
    if not name or len(name) > 100:
        raise _invalid("name", _("Give the team a name of at most 100 characters."))
    return name


def add_team(actor: User, **fields: Any) -> Team:
    """A new team; a manager creates it under one of the teams they manage."""
    _require_people_manager(actor)
    fields["name"] = _clean_name(fields.get("name"))
    _require_team(actor, fields.get("parent"))
    _require_team_manager(actor, fields.get("manager"))
    with transaction.atomic():
        team = create_team(**fields)
        _audit_created(actor, AuditLog.Action.TEAM_CREATE, "team", team.pk, _team_facts(team))
    return team


@transaction.atomic
def change_team(actor: User, team: Team, **fields: Any) -> Team:
    """Rename a team, move it under another parent (never under itself or its own subtree)
    or name its manager. A manager may not change who manages the teams they manage, nor
    move a team out of their subtree."""
    _require_people_manager(actor)
    _require_team(actor, team)
    before = _team_facts(Team.objects.get(pk=team.pk))
    if "name" in fields:
        fields["name"] = _clean_name(fields["name"])
    if "parent" in fields:
        parent = fields["parent"]
        if parent is not None and (parent.pk == team.pk or parent.path.startswith(team.path)):
            raise _invalid("parent", _("A team cannot sit under itself or its subtree."))
        if parent is None or parent.pk != before["parent"]:
            _require_team(actor, parent)
    if "manager" in fields and getattr(fields["manager"], "pk", None) != before["manager"]:
        if managed_team_ids(actor) is not None and team.manager_id == actor.pk:
            raise _refuse(_("Only an administrator may change who manages your own team."))
        _require_team_manager(actor, fields["manager"])
    for name, value in fields.items():
        setattr(team, name, value)
    team.save()
    _audit_changed(actor, AuditLog.Action.TEAM_CHANGE, "team", team.pk, before, _team_facts(team))
    return team


def add_user(actor: User, **fields: Any) -> User:
    """A new user; a manager creates them in one of the teams they manage, as a rep or a
    manager."""
    _require_people_manager(actor)
    _require_role(actor, fields.get("role", Role.REP))
    _require_team(actor, fields.get("team"))
    with transaction.atomic():
        user = create_user(**fields)
        _audit_created(actor, AuditLog.Action.USER_CREATE, "user", user.pk, _user_facts(user.pk))
    return user


def change_user(actor: User, user: User, **fields: Any) -> User:
    """Change a user on ``actor``'s behalf (see the module's rules), through ``update_user``."""
    _require_people_manager(actor)
    _require_user(actor, user)
    if "role" in fields:
        _require_role(actor, fields["role"])
    if "team" in fields and fields["team"] != user.team:
        _require_team(actor, fields["team"])
    if user.pk == actor.pk and (
        fields.get("role", user.role) != user.role or fields.get("is_active", True) is False
    ):
        raise _refuse(_("You may not change your own role or deactivate yourself."))
    return update_user(user, actor=actor, **fields)


PROFILE_FIELDS = (
    "level",
    "skills",
    "holding_cap_override",
    "daily_quota_override",
    "weekly_quota_override",
)
SKILL_KINDS = ("industries", "regions", "product_lines")


def _clean_profile(fields: dict[str, Any]) -> dict[str, Any]:
    unknown = set(fields) - set(PROFILE_FIELDS)
    if unknown:
        raise _invalid(sorted(unknown)[0], _("This field cannot be changed here."))
    if "level" in fields and fields["level"] not in RepLevel.values:
        raise _invalid("level", _("Choose a level."))
    if "skills" in fields:
        skills = fields["skills"]
        if not isinstance(skills, dict) or set(skills) - set(SKILL_KINDS):
            raise _invalid("skills", _("Skills are lists of industries, regions and products."))
        for kind, values in skills.items():
            if not isinstance(values, list) or not all(
                isinstance(v, str) and 0 < len(v) <= 50 for v in values
            ):
                raise _invalid(kind, _("Skills are lists of industries, regions and products."))
    for name in PROFILE_FIELDS[2:]:
        value = fields.get(name)
        if (
            name in fields
            and value is not None
            and (isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 100_000)
        ):
            raise _invalid(name, _("A limit is a whole number from 0 to 100000, or empty."))
    return fields


def held_customers(user_id: int) -> int:
    """The customers a rep holds (owned or frozen), won ones included."""
    return Customer.objects.filter(
        owner_id=user_id,
        status__in=[CustomerStatus.OWNED, CustomerStatus.FROZEN],
        merged_into__isnull=True,
    ).count()


@transaction.atomic
def change_profile(actor: User, user: User, **fields: Any) -> RepProfile:
    """Change a rep's level, skills and personal limits (holding cap, daily and weekly claim
    quota; ``None`` leaves the pool's). One ``profile_change`` audit row with the values
    before and after.

    A holding cap lowered below what the rep holds is allowed, like a pool's tightened cap:
    nobody's customers are taken away and the rep gains none until under it. It is recorded
    as a ``cap_override`` row for the rep (the record ``highseas check`` reads), so the excess
    is on record rather than flagged. The rep's profile row is locked like a claim locks it.
    """
    _require_people_manager(actor)
    _require_user(actor, user)
    fields = _clean_profile(dict(fields))
    profile = RepProfile.objects.select_for_update(of=("self",)).filter(
        user_id=user.pk
    ).first() or RepProfile.objects.create(user=user)
    before = {name: getattr(profile, name) for name in fields}
    for name, value in fields.items():
        setattr(profile, name, value)
    after = {name: getattr(profile, name) for name in fields}
    old, new = _audit_changed(actor, AuditLog.Action.PROFILE_CHANGE, "user", user.pk, before, after)
    if not new:
        return profile
    profile.save(update_fields=list(new))
    cap, was = new.get("holding_cap_override"), old.get("holding_cap_override")
    if cap is not None and (was is None or cap < was):
        held = held_customers(user.pk)
        if held > cap:
            record_audit(
                actor,
                AuditLog.Action.CAP_OVERRIDE,
                target_type="user",
                target_id=user.pk,
                receiver=user.pk,
                reason="profile_cap_lowered",
                holdings=held,
                limit=cap,
            )
    return profile
