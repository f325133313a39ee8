"""The one query layer: what a user may see, and which fields they see masked (SPEC §2).

Every read path (API list and detail, web pages, search, exports, dashboards, jobs acting
for a user) starts from these selectors, so a rule changed here changes everywhere.

Rules:
1. admin: every customer, in full;
2. manager: customers owned by anyone in their team subtree, in full; pooled customers of
   pools they belong to, masked unless they administer the pool;
3. rep: their own customers in full; pooled customers of pools they belong to, masked by the
   pool's ``masked_fields``; nothing else (public search is a separate, basic-fields path);
4. a customer merged into another is nobody's to see: its rows moved to the survivor;
5. ``HIGHSEAS_ROLE_MASKED_FIELDS`` (``{"rep": ["phone"]}``) masks fields for a role even
   where it sees a customer in full, until revealed;
6. revealing a masked value (``may_reveal``): admins; the owner and the managers above the
   owner; for a pooled customer, the pool's admins. Reps never reveal a pooled customer;
7. leave cover: while a rep's recorded leave lasts, the colleague named to cover it sees the
   rep's customers in full in the pools whose recycle policy says ``leave_mode: cover``.

Lists read the same rule branch by branch (``Viewer.branches``): one statement over "own OR
pooled OR team" leaves the database no index that gives both the rows and their order, so at
a million customers it reads and sorts hundreds of thousands of rows for a 25-row page. Each
branch alone is readable newest first on an index (``pools.listing`` merges their pages).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Protocol

from django.conf import settings
from django.db.models import Q, QuerySet
from django.utils import timezone

from highseas.accounts.models import RepProfile, Role, Team, User
from highseas.customers.choices import CustomerStatus
from highseas.customers.models import Customer
from highseas.engine.masking import mask_value
from highseas.pools.models import LeaveMode, Pool

FEW_OWNERS = 32  # a team branch of more owners is read along the primary key, newest first


@dataclass(frozen=True)
class Branch:
    """One piece of a viewer's visible customers (``Viewer.branches``). ``dense``: a large
    share of the whole table, best read by walking the primary key newest first (an index on
    its filter would return far more rows than a page needs, in the wrong order). ``few``:
    one owner's customers (bounded by their holdings), best read whole from the owner's index.
    ``pool_id``: the pool of a pool's piece."""

    customers: QuerySet[Customer]
    dense: bool = False
    few: bool = False
    pool_id: int | None = None


def ancestor_team_ids(team: Team | None) -> list[int]:
    if team is None:
        return []
    return [int(part) for part in team.path.strip("/").split("/") if part]


def subtree_team_ids(user: User) -> set[int]:
    """Teams a manager manages, with every team below them."""
    paths = list(Team.objects.filter(manager=user).values_list("path", flat=True))
    if not paths:
        return set()
    query = Q()
    for path in paths:
        query |= Q(path__startswith=path)
    return set(Team.objects.filter(query).values_list("id", flat=True))


def member_pools(user: User) -> QuerySet[Pool]:
    """Pools the user belongs to directly, or through their team or any team above it."""
    if user.role == Role.ADMIN or user.is_superuser:
        return Pool.objects.all()
    teams = ancestor_team_ids(user.team)
    return Pool.objects.filter(
        Q(member_users=user) | Q(member_teams__in=teams) | Q(admins=user)
    ).distinct()


class Viewer:
    """A user's visibility facts, computed once per request."""

    def __init__(self, user: User) -> None:
        self.user = user

    @property
    def is_admin(self) -> bool:
        return bool(self.user.is_admin)

    @property
    def is_manager_or_admin(self) -> bool:
        """Who opens the manager console and asks for sweeps and reports."""
        return self.is_admin or bool(self.user.is_manager)

    @cached_property
    def subtree_team_ids(self) -> set[int]:
        return subtree_team_ids(self.user) if self.user.is_manager else set()

    @cached_property
    def member_pool_ids(self) -> set[int]:
        return set(member_pools(self.user).values_list("id", flat=True))

    @cached_property
    def admin_pool_ids(self) -> set[int]:
        return set(Pool.objects.filter(admins=self.user).values_list("id", flat=True))

    @cached_property
    def covered_owner_ids(self) -> frozenset[int]:
        """Rule 7: the reps on leave today whose leave this user covers."""
        today = timezone.localdate()
        return frozenset(
            RepProfile.objects.filter(
                leave_cover_id=self.user.pk, leave_from__lte=today, leave_until__gte=today
            ).values_list("user_id", flat=True)
        )

    def covers(self, customer: Customer) -> bool:
        """Rule 7 for one customer: its owner's leave is covered by this user, in a pool whose
        policy names a cover."""
        if customer.owner_id is None or customer.owner_id not in self.covered_owner_ids:
            return False
        policy = getattr(customer.pool, "recycle_policy", None) if customer.pool else None
        return policy is not None and policy.leave_mode == LeaveMode.COVER

    def customers(self) -> QuerySet[Customer]:
        base = Customer.objects.select_related("owner", "pool").filter(merged_into__isnull=True)
        if self.is_admin:
            return base.all()
        visible = Q(owner=self.user) | Q(
            status=CustomerStatus.POOLED, pool_id__in=self.member_pool_ids
        )
        if self.subtree_team_ids:
            visible |= Q(owner__team_id__in=self.subtree_team_ids)
        if self.covered_owner_ids:
            visible |= Q(
                owner_id__in=sorted(self.covered_owner_ids),
                pool__recycle_policy__leave_mode=LeaveMode.COVER,
            )
        return base.filter(visible)

    @cached_property
    def subtree_user_ids(self) -> list[int]:
        """Everyone in the teams the user manages (rule 2's owners), active or not."""
        if not self.subtree_team_ids:
            return []
        users = User.objects.filter(team_id__in=self.subtree_team_ids).order_by("pk")
        return list(users.values_list("pk", flat=True))

    def branches(self, statuses: Collection[str] | None = None) -> list[Branch]:
        """``customers()`` (narrowed to ``statuses`` when given) as pieces whose union is
        exactly it (pieces may overlap): the admin's one dense piece; the user's own customers;
        each member pool's pooled customers; the team's customers, owner by owner for a small
        team or as one dense piece; each covered owner's customers in cover pools. A piece the
        statuses rule out is left out, so no statement hunts for rows that cannot exist."""
        base = Customer.objects.filter(merged_into__isnull=True)
        if statuses is not None:
            base = base.filter(status__in=sorted(statuses))
        if self.is_admin:
            return [Branch(base, dense=True)]
        owned = statuses is None or any(status != CustomerStatus.POOLED for status in statuses)
        pooled = statuses is None or CustomerStatus.POOLED in statuses
        found = [Branch(base.filter(owner_id=self.user.pk), few=True)] if owned else []
        if pooled:
            found += [
                Branch(base.filter(status=CustomerStatus.POOLED, pool_id=pk), pool_id=pk)
                for pk in sorted(self.member_pool_ids)
            ]
        team = [pk for pk in self.subtree_user_ids if pk != self.user.pk]
        if owned and len(team) > FEW_OWNERS:
            found.append(Branch(base.filter(owner_id__in=team), dense=True))
        elif owned:
            found += [Branch(base.filter(owner_id=pk), few=True) for pk in team]
        if owned and self.covered_owner_ids:
            cover = base.filter(pool__recycle_policy__leave_mode=LeaveMode.COVER)
            found += [
                Branch(cover.filter(owner_id=pk), few=True) for pk in sorted(self.covered_owner_ids)
            ]
        return found

    def sees_in_full(self, customer: Customer) -> bool:
        if self.is_admin or (customer.owner_id is not None and customer.owner_id == self.user.pk):
            return True
        if self.covers(customer):
            return True
        if customer.owner is not None:
            return customer.owner.team_id in self.subtree_team_ids
        return customer.pool_id in self.admin_pool_ids

    @cached_property
    def role_masked_fields(self) -> frozenset[str]:
        by_role: dict[str, Any] = getattr(settings, "HIGHSEAS_ROLE_MASKED_FIELDS", {})
        return frozenset(by_role.get(self.user.role, ()))

    def masked_fields(self, customer: Customer) -> frozenset[str]:
        if self.sees_in_full(customer):
            return self.role_masked_fields
        pool = customer.pool
        return frozenset(pool.masked_fields if pool else ("phone", "email")) | (
            self.role_masked_fields
        )

    def mask(self, customer: Customer, values: dict[str, Any]) -> dict[str, Any]:
        """``values`` (a customer's representation or export row) with the fields this
        user may not see masked, server-side."""
        masked = self.masked_fields(customer)
        return {
            name: mask_value(name, value) if name in masked else value
            for name, value in values.items()
        }

    def may_reveal(self, customer: Customer) -> bool:
        """Rule 6: admins; the owner and their managers; a pooled customer's pool admins."""
        if self.is_admin:
            return True
        if customer.owner_id is not None:
            return customer.owner_id == self.user.pk or (
                customer.owner is not None and customer.owner.team_id in self.subtree_team_ids
            )
        return customer.pool_id in self.admin_pool_ids

    def users(self) -> QuerySet[User]:
        if self.is_admin:
            return User.objects.all()
        query = Q(pk=self.user.pk)
        if self.subtree_team_ids:
            query |= Q(team_id__in=self.subtree_team_ids)
        if self.user.team_id:
            query |= Q(team_id=self.user.team_id)
        return User.objects.filter(query)

    def pools(self) -> QuerySet[Pool]:
        return member_pools(self.user)


def viewer_for(user: User) -> Viewer:
    return Viewer(user)


class SignedInRequest(Protocol):
    """A Django ``HttpRequest`` or a DRF ``Request``: anything with the signed-in user."""

    @property
    def user(self) -> Any: ...


def viewer_of(request: SignedInRequest) -> Viewer:
    """The request's viewer, computed once and kept on the underlying Django request, so that
    the API and the web (and a DRF request wrapping a Django one) share it."""
    raw: Any = getattr(request, "_request", request)
    viewer = getattr(raw, "_highseas_viewer", None)
    if viewer is None:
        user = request.user
        assert isinstance(user, User)
        viewer = Viewer(user)
        raw._highseas_viewer = viewer
    return viewer
