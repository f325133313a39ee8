"""Finding and deleting earlier demo data.

Demo data is: the four demo pools and every customer in them (with contacts, follow-ups,
deals, ledger rows, tasks, comments, notifications and claim requests), the demo departments
and their groups, the four managers, and the ``repNN`` users of those teams. Anything else
that points at demo data makes the reset fail, and roll back, with an explanation.
"""

from __future__ import annotations

from typing import Any

from django.db import DEFAULT_DB_ALIAS, IntegrityError, models, transaction
from django.db.models import CASCADE, ProtectedError, Q, QuerySet

from highseas.accounts.models import Team, User
from highseas.customers.models import Activity, Contact, Customer, Deal
from highseas.demo.roster import TEAMS, is_group_name
from highseas.pools.models import OwnershipEvent, Pool

DEMO_POOL_NAMES = tuple(team.pool_name for team in TEAMS)
DEMO_TEAM_NAMES = tuple(team.name for team in TEAMS)
MANAGER_USERNAMES = tuple(team.manager_username for team in TEAMS)
BULK_TABLES: tuple[type[models.Model], ...] = (Activity, Deal, Contact, OwnershipEvent)


class DemoDataInUse(RuntimeError):
    """Data outside the demo points at demo data, so the demo cannot be deleted."""


def existing_demo_data() -> list[str]:
    """Names of demo pools, teams and managers already in the database."""
    found = [
        f"pool {name}"
        for name in Pool.objects.filter(name__in=DEMO_POOL_NAMES).values_list("name", flat=True)
    ]
    found += [
        f"team {name}"
        for name in Team.objects.filter(name__in=DEMO_TEAM_NAMES).values_list("name", flat=True)
    ]
    found += [
        f"user {name}"
        for name in User.objects.filter(username__in=MANAGER_USERNAMES).values_list(
            "username", flat=True
        )
    ]
    return found


def delete_demo_data() -> int:
    """Delete the demo data in one transaction; return how many customers went."""
    try:
        with transaction.atomic():
            return _delete_demo_data()
    except (ProtectedError, IntegrityError) as exc:
        raise DemoDataInUse(
            "other data refers to demo users, pools or customers (for example a customer, "
            f"ledger row or assignment rule created after the demo): {exc}"
        ) from exc


def _delete_demo_data() -> int:
    pool_ids = list(Pool.objects.filter(name__in=DEMO_POOL_NAMES).values_list("id", flat=True))
    customers = Customer.objects.filter(pool_id__in=pool_ids)
    count = customers.count()
    _delete_customer_dependents(customers.values("id"))
    customers._raw_delete(DEFAULT_DB_ALIAS)
    Pool.objects.filter(id__in=pool_ids).delete()
    teams = _demo_teams()
    _demo_users(teams).delete()
    for team in sorted(teams, key=lambda team: -len(team.path)):
        team.delete()
    return count


def _delete_customer_dependents(customer_ids: QuerySet[Customer, Any]) -> None:
    """Rows that go with the customers: the big tables in one DELETE each, without loading
    rows (the ledger even forbids row deletes); any other cascading relation (tasks,
    comments, notifications, claim requests, assignment decisions …) through the ORM, which
    follows its own cascades. Protecting relations (merges) are left to fail the reset."""
    for relation in Customer._meta.get_fields(include_hidden=True):
        if not isinstance(relation, models.ManyToOneRel) or relation.on_delete is not CASCADE:
            continue
        model = relation.field.model
        if model not in BULK_TABLES:
            model._default_manager.filter(**{f"{relation.field.name}__in": customer_ids}).delete()
    for bulk_model in BULK_TABLES:
        rows = bulk_model._default_manager.filter(customer_id__in=customer_ids)
        rows._raw_delete(DEFAULT_DB_ALIAS)


def _demo_teams() -> list[Team]:
    departments = list(Team.objects.filter(name__in=DEMO_TEAM_NAMES, parent=None))
    specs = {team.name: team for team in TEAMS}
    groups = [
        group
        for department in departments
        for group in Team.objects.filter(parent=department)
        if is_group_name(specs[department.name], group.name)
    ]
    return departments + groups


def _demo_users(teams: list[Team]) -> QuerySet[User]:
    return User.objects.filter(
        Q(username__in=MANAGER_USERNAMES) | Q(team__in=teams, username__regex=r"^rep\d{2,}$")
    )
