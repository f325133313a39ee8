"""Finding and deleting earlier demo data.

Demo data is: the four demo pools and every customer in them (with contacts, follow-ups,
deals, ledger rows, tasks, comments, notifications and claim requests), the demo departments
and their groups, the four managers, and the ``repNN`` users of those teams. Anything else
that points at demo data makes the reset fail, and roll back, with an explanation.
"""

from __future__ import annotations

from django.db import DEFAULT_DB_ALIAS, IntegrityError, transaction
from django.db.models import ProtectedError, Q, QuerySet

from highseas.accounts.models import Team, User
from highseas.customers.models import Activity, Comment, Contact, Customer, Deal, Task
from highseas.demo.roster import TEAMS, is_group_name
from highseas.notify.models import Notification
from highseas.pools.models import ClaimRequest, OwnershipEvent, Pool

DEMO_POOL_NAMES = tuple(team.pool_name for team in TEAMS)
DEMO_TEAM_NAMES = tuple(team.name for team in TEAMS)
MANAGER_USERNAMES = tuple(team.manager_username for team in TEAMS)


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
    customer_ids = customers.values("id")
    count = customers.count()
    for model in (Notification, Task, Comment, ClaimRequest):
        model._default_manager.filter(customer_id__in=customer_ids).delete()
    # Bulk tables: one DELETE each, without loading rows (the ledger forbids row deletes).
    for bulk_model in (Activity, Deal, Contact, OwnershipEvent):
        bulk_model._default_manager.filter(customer_id__in=customer_ids)._raw_delete(
            DEFAULT_DB_ALIAS
        )
    customers._raw_delete(DEFAULT_DB_ALIAS)
    Pool.objects.filter(id__in=pool_ids).delete()
    teams = _demo_teams()
    _demo_users(teams).delete()
    for team in sorted(teams, key=lambda team: -len(team.path)):
        team.delete()
    return count


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
