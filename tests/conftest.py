"""Shared fixtures: an organization built through the real services, and API clients."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest
from hypothesis import settings as hypothesis_settings
from pytest_django.fixtures import Settings
from rest_framework.test import APIClient

from highseas.accounts import services as accounts
from highseas.accounts.models import Role, Team, User
from highseas.customers.models import Customer
from highseas.intake import creation as intake
from highseas.pools import services as pools
from highseas.pools.models import Pool

_counter = itertools.count(1)

# Property tests check what code does, never how fast: no per-example deadline, which a busy
# machine (the two databases' runs share its cores) would turn into a false failure.
hypothesis_settings.register_profile("highseas", deadline=None)
hypothesis_settings.load_profile("highseas")


@pytest.fixture
def make_team(db: None) -> Callable[..., Team]:
    def make(name: str | None = None, **kwargs: Any) -> Team:
        return accounts.create_team(name=name or f"团队{next(_counter)}", **kwargs)

    return make


@pytest.fixture
def make_user(db: None) -> Callable[..., User]:
    def make(role: str = Role.REP, username: str | None = None, **kwargs: Any) -> User:
        username = username or f"{role}{next(_counter)}"
        kwargs.setdefault("display_name", username.upper())
        return accounts.create_user(
            username=username, password="pw-" + username, role=role, **kwargs
        )

    return make


@pytest.fixture
def make_pool(db: None) -> Callable[..., Pool]:
    def make(
        name: str | None = None,
        *,
        members: list[User] | None = None,
        teams: list[Team] | None = None,
        admins: list[User] | None = None,
        claim_policy: dict[str, Any] | None = None,
        recycle_policy: dict[str, Any] | None = None,
        **fields: Any,
    ) -> Pool:
        return pools.save_pool(
            Pool(name=name or f"公海{next(_counter)}", **fields),
            claim_policy=claim_policy,
            recycle_policy=recycle_policy,
            member_users=members or [],
            member_teams=teams or [],
            admins=admins or [],
        )

    return make


@pytest.fixture
def make_customer(db: None) -> Callable[..., Customer]:
    def make(
        actor: User,
        *,
        owner: User | None = None,
        pool: Pool | None = None,
        now: datetime | None = None,
        **fields: Any,
    ) -> Customer:
        fields.setdefault("name", f"测试客户{next(_counter)}有限公司")
        # Eleven digits however many customers a run has made (a longer number is refused).
        fields.setdefault("phone", f"137{next(_counter) % 100_000_000:08d}")
        fields.setdefault("email", f"buyer{next(_counter)}@example.com")
        return intake.create_customer(
            actor=actor, fields=fields, owner=owner, pool=pool, now=now
        ).customer

    return make


@pytest.fixture
def api(db: None) -> Callable[[User | None], APIClient]:
    """An API client authenticated with a real token of the user (or anonymous); one token
    per user and test, issued the way sign-in issues it (set-up, so not audited)."""
    secrets: dict[int, str] = {}

    def client_for(user: User | None = None) -> APIClient:
        client = APIClient()
        if user is not None:
            if user.pk not in secrets:
                _token, secrets[user.pk] = accounts.issue_token(user, device="tests", audited=False)
            client.credentials(HTTP_AUTHORIZATION=f"Token {secrets[user.pk]}")
        return client

    return client_for


@pytest.fixture
def org(
    make_team: Callable[..., Team], make_user: Callable[..., User], make_pool: Callable[..., Pool]
) -> dict[str, Any]:
    """Two sibling teams under a head office, their managers and reps, and one pool each."""
    admin = make_user(Role.ADMIN, "boss")
    head = make_team("总部")
    east = make_team("华东销售部", parent=head)
    south = make_team("华南销售部", parent=head)
    east_manager = make_user(Role.MANAGER, "mgr_east", team=east)
    south_manager = make_user(Role.MANAGER, "mgr_south", team=south)
    east.manager, south.manager = east_manager, south_manager
    east.save()
    south.save()
    rep_a = make_user(Role.REP, "rep_a", team=east)
    rep_b = make_user(Role.REP, "rep_b", team=east)
    rep_c = make_user(Role.REP, "rep_c", team=south)
    east_pool = make_pool("华东公海", teams=[east])
    south_pool = make_pool("华南公海", teams=[south])
    return {
        "admin": admin,
        "head": head,
        "east": east,
        "south": south,
        "east_manager": east_manager,
        "south_manager": south_manager,
        "rep_a": rep_a,
        "rep_b": rep_b,
        "rep_c": rep_c,
        "east_pool": east_pool,
        "south_pool": south_pool,
    }


@pytest.fixture
def emailing(settings: Settings, org: dict[str, Any]) -> None:
    """E-mail notifications on (webhooks off), and rep_a and rep_b with an address."""
    settings.HIGHSEAS_EMAIL_NOTIFICATIONS = True
    settings.HIGHSEAS_WEBHOOK_URL = ""
    for name in ("rep_a", "rep_b"):
        org[name].email = f"{name}@example.com"
        org[name].save(update_fields=["email"])
