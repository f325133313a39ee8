"""A state machine drives the whole REST API for a small organization, every action by every
role, and after every step checks what HighSeas promises (SPEC §2, §4, §10):

- ``highseas check`` is clean;
- no answer is a server error, and every refusal carries a stable ``code``;
- no caller received a customer they may not see, nor a private value of one, and reps see
  pooled customers masked by the pool's ``masked_fields``;
- a refused action left no trace (customers, ledger, claim requests, follow-ups unchanged);
- every ledger row a step wrote names the caller, or a system authority (``system:…``).

The visibility oracle below is computed from the rows and SPEC §2, not from ``Viewer``: a test
that asks the code under test what to expect cannot fail.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection, transaction
from django.test import TestCase
from django.utils import timezone
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test
from rest_framework.test import APIClient

from highseas.accounts import services as accounts
from highseas.accounts.models import Role, Team, User
from highseas.api.views.ownership import ClaimRequestViewSet
from highseas.customers.models import Activity, Contact, Customer, Deal
from highseas.engine.errors import ErrorCode
from highseas.intake import creation as intake
from highseas.notify.models import Notification
from highseas.pools import followups, ownership
from highseas.pools import services as pools
from highseas.pools.invariants import run_checks
from highseas.pools.models import ClaimPolicy, ClaimRequest, OwnershipEvent, Pool, RecyclePolicy

USERS = ("admin", "mgr_e", "mgr_s", "rep_e1", "rep_e2", "rep_e3", "rep_s1", "rep_s2")
# Who tries a manager's action: mostly those who may, sometimes a rep (who must be refused).
MANAGING = ("admin", "mgr_e", "mgr_s", "admin", "mgr_e", "mgr_s", "rep_e1", "rep_s2")
OWNERSHIP_FIELDS = (
    "owner",
    "pool",
    "status",
    "owned_since",
    "frozen_until",
    "recycle_due_at",
    "warn_at",
    "previous_owner",
)
ERROR_CODES = {code.value for code in ErrorCode}
WORDS = ("海纳", "星河", "恒通", "瑞丰", "蓝鲸", "青松", "金桥", "远帆", "东升", "华茂", "天工")
PROVINCES = ("广东", "浙江", "江苏", "上海")
PRIVATE_FIELDS = ("phone", "email", "credit_code", "address")
# Business fields with a valid and an invalid value each (None: no invalid value to try).
BUSINESS_EDITS: dict[str, tuple[Any, Any]] = {
    "name": ("改名贸易有限公司", ""),
    "kind": ("person", "alien"),
    "credit_code": ("91310000MA1K4AAA1X", "X" * 40),
    "phone": ("13912345678", "1" * 60),
    "email": ("edited@example.cn", "not-an-email"),
    "industry": ("制造业", "x" * 80),
    "province": ("浙江", "x" * 40),
    "city": ("杭州", "x" * 40),
    "address": ("杭州市西湖区文三路1号", "x" * 300),
    "employees": (120, -5),
    "revenue_band": ("1m-10m", "huge"),
    "source": ("referral", "carrier-pigeon"),
    "campaign": ("春季展会", "x" * 150),
    "tags": (["重点"], "not-a-list"),
    "custom_fields": ({"erp": "K-1"}, ["not", "an", "object"]),
}
# Pool edits: claim limits tightened or lifted, recycle rules moved, masks changed, bad values.
POOL_CHANGES: list[dict[str, Any]] = [
    {"claim_policy": {"daily_quota": 1, "weekly_quota": 1}},
    {"claim_policy": {"holding_cap": 1}},  # may fall below holdings: no breach (check)
    {"claim_policy": {"holding_cap": 10}},
    {"claim_policy": {"holding_cap": None, "daily_quota": None}},
    {"claim_policy": {"requires_reason": True}},
    {"claim_policy": {"requires_approval": False}},
    {"claim_policy": {"daily_quota": -1}},
    {"recycle_policy": {"idle_days": 1, "warn_days": 1}},
    {"recycle_policy": {"exempt_levels": ["A", "B", "C"]}},
    {"recycle_policy": {"exempt_levels": []}},
    {"recycle_policy": {"level_overrides": {"C": {"idle_days": 2}}}},
    {"recycle_policy": {"destination": "reassign_queue"}},
    {"recycle_policy": {"exempt_levels": ["Z"]}},
    {"masked_fields": ["phone"]},
    {"masked_fields": ["phone", "email", "address", "credit_code", "contacts"]},
]
LEVEL_STAGE_EDITS: dict[str, tuple[str, ...]] = {
    "level": ("A", "B", "C"),
    "stage": ("prospect", "contacted", "qualified", "negotiation", "won", "lost"),
}


def _ownership_values(machine: ApiMachine, name: str) -> list[Any]:
    """Values a request might try for an ownership field: valid-looking and invalid."""
    users, pools_ = machine.users, machine.pools
    moments = [machine.now().isoformat(), (machine.now() + timedelta(days=400)).isoformat()]
    values: dict[str, list[Any]] = {
        "owner": [users["rep_e1"].pk, users["rep_s2"].pk, None, 999_999, "x"],
        "pool": [pools_["open"].pk, pools_["approval"].pk, None, 999_999],
        "status": ["pooled", "owned", "frozen", "gone"],
        "owned_since": [*moments, None, "yesterday"],
        "frozen_until": [*moments, None],
        "recycle_due_at": [*moments, None],
        "warn_at": [*moments, None],
        "previous_owner": [users["rep_e2"].pk, None],
    }
    return values[name]


SNAPSHOT_MODELS = (
    Pool,
    ClaimPolicy,
    RecyclePolicy,
    Customer,
    ClaimRequest,
    Activity,
    Deal,
    Contact,
    OwnershipEvent,
)


@dataclass(frozen=True)
class Snapshot:
    """The stored rows a refused action must leave untouched, as the database holds them
    (personal fields stay encrypted: a refusal must not even re-encrypt them)."""

    tables: tuple[tuple[tuple[Any, ...], ...], ...]

    @classmethod
    def take(cls) -> Snapshot:
        tables = []
        with connection.cursor() as cursor:
            for model in SNAPSHOT_MODELS:
                table = connection.ops.quote_name(model._meta.db_table)
                cursor.execute(f"SELECT * FROM {table} ORDER BY id")
                tables.append(tuple(tuple(row) for row in cursor.fetchall()))
        return cls(tuple(tables))

    @property
    def ledger_mark(self) -> int:
        events = self.tables[-1]
        return int(events[-1][0]) if events else 0


FULL, MASKED = "full", "masked"


def visibility(user: User) -> dict[int, str]:
    """Which customers ``user`` may see, and how (SPEC §2), from the rows alone.

    admin: all, in full. Everyone: their own customers in full. A manager: customers owned by
    anyone in the subtree of the teams they manage, in full. Pooled customers of a pool the
    user belongs to (directly, through their team or a team above it, or as its admin):
    masked, in full for the pool's admins. Customers merged away: nobody's.
    """
    customers = Customer.objects.filter(merged_into__isnull=True).values_list(
        "id", "status", "owner_id", "pool_id"
    )
    if user.role == Role.ADMIN:
        return {cid: FULL for cid, _status, _owner, _pool in customers}
    parents = dict(Team.objects.values_list("id", "parent_id"))
    managed = set(Team.objects.filter(manager=user).values_list("id", flat=True))
    subtree = set(managed)
    changed = True
    while changed:
        below = {team for team, parent in parents.items() if parent in subtree} - subtree
        subtree |= below
        changed = bool(below)
    ancestors: set[int] = set()
    team = user.team_id
    while team is not None and team not in ancestors:
        ancestors.add(team)
        team = parents.get(team)
    member = set(Pool.member_users.through.objects.filter(user=user).values_list("pool", flat=True))
    member |= set(
        Pool.member_teams.through.objects.filter(team__in=ancestors).values_list("pool", flat=True)
    )
    administered = set(Pool.admins.through.objects.filter(user=user).values_list("pool", flat=True))
    member |= administered
    owner_teams = dict(User.objects.values_list("id", "team_id"))
    seen: dict[int, str] = {}
    for cid, status, owner, pool in customers:
        if owner is not None and (owner == user.pk or owner_teams.get(owner) in subtree):
            seen[cid] = FULL
        elif status == "pooled" and pool in member:
            seen[cid] = FULL if pool in administered else MASKED
    return seen


def private_values(customer_ids: set[int], *, masked_only: bool) -> dict[int, set[str]]:
    """Values of these customers a viewer who may not see them in full must never receive:
    the pool's masked fields (``masked_only``) or every private field, with their contacts'
    phones, e-mails and WeChat ids, the notes of their follow-ups and their deals' names."""
    found: dict[int, set[str]] = {cid: set() for cid in customer_ids}
    masked_by_pool = dict(Pool.objects.values_list("id", "masked_fields"))
    rows = Customer.objects.filter(pk__in=customer_ids).values("id", "pool_id", *PRIVATE_FIELDS)
    for row in rows:
        names = (
            masked_by_pool.get(row["pool_id"], ["phone", "email"])
            if masked_only
            else PRIVATE_FIELDS
        )
        found[row["id"]] |= {str(row[n]) for n in names if row.get(n)}
    for cid, phones, email, wechat in Contact.objects.filter(
        customer_id__in=customer_ids
    ).values_list("customer_id", "phones", "email", "wechat"):
        found[cid] |= {*phones, email, wechat}
    for cid, note in Activity.objects.filter(customer_id__in=customer_ids).values_list(
        "customer_id", "note"
    ):
        found[cid].add(note)
    for cid, name in Deal.objects.filter(customer_id__in=customer_ids).values_list(
        "customer_id", "name"
    ):
        found[cid].add(name)
    return {cid: {v for v in values if v and len(v) >= 5} for cid, values in found.items()}


def customer_dicts(body: Any) -> list[dict[str, Any]]:
    """Every customer representation inside a response body."""
    found = []
    if isinstance(body, dict):
        if {"id", "status", "name", "masked_fields"} <= body.keys():
            found.append(body)
        for value in body.values():
            found.extend(customer_dicts(value))
    elif isinstance(body, list):
        for value in body:
            found.extend(customer_dicts(value))
    return found


def mentioned_customers(body: Any) -> set[int]:
    """Customer ids named by reports (sweeps, previews, runs, explanations)."""
    found: set[int] = set()
    if isinstance(body, dict):
        if isinstance(body.get("customer"), int):
            found.add(body["customer"])
        for key, value in body.items():
            if key == "unfrozen" and isinstance(value, list):
                found |= {v for v in value if isinstance(v, int)}
            else:
                found |= mentioned_customers(value)
    elif isinstance(body, list):
        for value in body:
            found |= mentioned_customers(value)
    return found


STATS: Counter[tuple[str, str, int]] = Counter()


def _shape(path: str) -> str:
    return "/".join("{id}" if part.isdigit() else part for part in path.split("/"))


def pick(data: st.DataObject, rows: list[Any], label: str) -> Any:
    """One of rows that depend on the database: drawn as a position, so that a replay whose
    rows differ a little (ids from a sequence, a moment later) draws the same way."""
    return rows[data.draw(st.integers(0, 63), label=label) % len(rows)]


@dataclass
class Exchange:
    who: str
    method: str
    path: str
    sent: Any
    status: int
    body: Any
    before: Snapshot
    seen_before: dict[int, str]
    ledger_mark: int
    expect: dict[str, Any] = field(default_factory=dict)


class ApiMachine(RuleBasedStateMachine):
    """One small organization per example, built through the services, then driven over HTTP.

    Head office with two teams: east (manager mgr_e, reps rep_e1..3) and south (mgr_s, rep_s1,
    rep_s2). Pool "open": both teams, masked phone/e-mail/address/credit code, quotas, a cap,
    a cooldown, freeze limits and a recycle policy exempting level A. Pool "approval": east
    and rep_s1, claims need a manager's approval. Two assignment rules on "open".
    """

    def __init__(self) -> None:
        super().__init__()
        self._atomic = transaction.atomic()
        self._atomic.__enter__()
        self.counter = 0
        self.offset = timedelta(0)
        self.exchanges: list[Exchange] = []
        self.checked: Snapshot | None = None
        try:
            self._build_org()
        except BaseException:
            self.teardown()  # hypothesis tears down only a machine it has
            raise

    def teardown(self) -> None:
        transaction.set_rollback(True)
        self._atomic.__exit__(None, None, None)

    # -- the organization ----------------------------------------------------------------

    def _build_org(self) -> None:
        def user(name: str, role: str, team: Team | None = None) -> User:
            return accounts.create_user(
                username=name, password="pw-" + name, role=role, team=team, display_name=name
            )

        admin = user("admin", Role.ADMIN)
        head = accounts.create_team(name="总部")
        east = accounts.create_team(name="华东", parent=head)
        south = accounts.create_team(name="华南", parent=head)
        self.users = {"admin": admin}
        self.users["mgr_e"] = user("mgr_e", Role.MANAGER, east)
        self.users["mgr_s"] = user("mgr_s", Role.MANAGER, south)
        east.manager, south.manager = self.users["mgr_e"], self.users["mgr_s"]
        east.save()
        south.save()
        for name in ("rep_e1", "rep_e2", "rep_e3"):
            self.users[name] = user(name, Role.REP, east)
        for name in ("rep_s1", "rep_s2"):
            self.users[name] = user(name, Role.REP, south)
        self.pools = {
            "open": pools.save_pool(
                Pool(name="开放公海", masked_fields=["phone", "email", "address", "credit_code"]),
                claim_policy={
                    "daily_quota": 3,
                    "weekly_quota": 5,
                    "holding_cap": 4,
                    "reclaim_cooldown_days": 2,
                    "max_frozen": 1,
                    "max_freeze_days": 10,
                },
                recycle_policy={
                    "idle_days": 5,
                    "no_deal_days": 20,
                    "first_contact_hours": 48,
                    "warn_days": 2,
                    "exempt_levels": ["A"],
                },
                member_users=[],
                member_teams=[east, south],
                admins=[],
            ),
            "approval": pools.save_pool(
                Pool(name="审批公海"),
                claim_policy={"requires_approval": True, "approval_expiry_hours": 48},
                recycle_policy={"idle_days": 10},
                member_users=[self.users["rep_s1"]],
                member_teams=[east],
                admins=[],
            ),
        }
        self.clients = {}
        for name, member in self.users.items():
            client = APIClient()
            _token, secret = accounts.issue_token(member, device="tests", audited=False)
            client.credentials(HTTP_AUTHORIZATION=f"Token {secret}")
            self.clients[name] = client
        placements: list[tuple[str | None, str, dict[str, Any]]] = [
            (None, "open", {"province": "广东"}),  # the rules match these two
            (None, "open", {"level": "B", "province": "浙江"}),
            (None, "open", {}),
            (None, "approval", {}),
            (None, "approval", {}),
            ("rep_e1", "open", {}),
            ("rep_e1", "open", {"level": "A"}),
            ("rep_s1", "open", {}),
            ("rep_e2", "approval", {}),
            ("rep_e3", "open", {"province": "江苏"}),  # followed up, then released below
        ]
        for owner, pool, fields in placements:
            created = intake.create_customer(
                actor=admin,
                fields=self._new_fields(**fields),
                owner=self.users[owner] if owner else None,
                pool=self.pools[pool],
            ).customer
        # A pooled customer with a history: what its follow-ups say is its last owner's.
        rep = self.users["rep_e3"]
        followups.log_activity(rep, created.pk, kind="call", note="前任跟进：老板手机 13811112222")
        followups.open_deal(rep, created.pk, amount=Decimal("5000"), name="前任商机甲")
        followups.add_contact(rep, created.pk, name="王经理", phones=["13633334444"])
        ownership.release(rep, created.pk, reason="交回公海")
        self.rules = []
        for body in (
            {
                "name": "广东给华南",
                "position": 1,
                "pool": self.pools["open"].pk,
                "is_active": True,
                "conditions": {"all": [{"field": "province", "op": "in", "value": ["广东"]}]},
                "target": {"team": south.pk, "strategy": "round_robin"},
            },
            {
                "name": "B 级给 rep_e2",
                "position": 2,
                "pool": self.pools["open"].pk,
                "is_active": True,
                "conditions": {"all": [{"field": "level", "op": "eq", "value": "B"}]},
                "target": {"user": self.users["rep_e2"].pk},
            },
        ):
            made = self.clients["admin"].post("/api/v1/assignment-rules/", body, format="json")
            assert made.status_code == 201, made.content
            self.rules.append(made.json()["id"])

    def _new_fields(self, **overrides: Any) -> dict[str, Any]:
        self.counter += 1
        n = self.counter
        fields = {
            "name": f"{WORDS[n % len(WORDS)]}{n}号{WORDS[(n * 7) % len(WORDS)]}有限公司",
            "phone": f"1390{n:07d}",
            "email": f"buyer{n}@corp{n}.cn",
            "address": f"第{n}工业园{n}号楼",
            "province": PROVINCES[n % len(PROVINCES)],
            "level": "C",
        }
        return {**fields, **overrides}

    def now(self) -> Any:
        return timezone.now() + self.offset

    def customer_ids(self) -> list[int]:
        return list(Customer.objects.order_by("id").values_list("id", flat=True))

    # -- one HTTP exchange ---------------------------------------------------------------

    def call(
        self, who: str, method: str, path: str, body: Any = None, **expect: Any
    ) -> tuple[int, Any]:
        before = Snapshot.take()
        ledger_mark = before.ledger_mark
        seen_before = visibility(self.users[who])
        client = self.clients[who]
        try:
            with TestCase.captureOnCommitCallbacks(execute=True):
                if method == "get":
                    response = client.get(path, body or {})
                else:
                    response = getattr(client, method)(path, body, format="json")
        except Exception as exc:  # the test client re-raises what became a 500
            raise AssertionError(f"server error: {who} {method.upper()} {path} {body!r}") from exc
        payload = response.json() if response.content else None
        STATS[(method, _shape(path), response.status_code)] += 1
        self.exchanges.append(
            Exchange(
                who,
                method,
                path,
                body,
                response.status_code,
                payload,
                before,
                seen_before,
                ledger_mark,
                expect,
            )
        )
        return response.status_code, payload

    def pick_customer(self, data: st.DataObject, who: str | None = None) -> int:
        """Mostly a customer the caller sees, sometimes any customer or one that is not."""
        seen = sorted(visibility(self.users[who])) if who else []
        if seen and data.draw(st.integers(0, 3), label="seen") > 0:
            return int(pick(data, seen, "customer"))
        ids = self.customer_ids()
        return int(pick(data, [*ids, 999_999], "customer"))

    # -- actions -------------------------------------------------------------------------

    @rule(
        who=st.sampled_from(USERS),
        owner=st.sampled_from([None, "self", "rep_e1", "rep_s2", "mgr_e"]),
        pool=st.sampled_from([None, "open", "approval"]),
        duplicate=st.booleans(),
        province=st.sampled_from(PROVINCES),
        level=st.sampled_from(["A", "B", "C"]),
    )
    def create_customer(
        self,
        who: str,
        owner: str | None,
        pool: str | None,
        duplicate: bool,
        province: str,
        level: str,
    ) -> None:
        self.exchanges = []
        body = self._new_fields(province=province, level=level)
        if duplicate:
            body["phone"] = Customer.objects.order_by("id").values_list("phone", flat=True)[0]
        if owner is not None:
            body["owner"] = self.users[who if owner == "self" else owner].pk
        if pool is not None:
            body["pool"] = self.pools[pool].pk
        self.call(who, "post", "/api/v1/customers/", body)

    @rule(who=st.sampled_from(USERS), data=st.data())
    def claim(self, who: str, data: st.DataObject) -> None:
        self.exchanges = []
        customer = self.pick_customer(data, who)
        reason = data.draw(st.sampled_from(["", "老客户回访"]), label="reason")
        self.call(who, "post", f"/api/v1/customers/{customer}/claim/", {"reason": reason})

    @rule(
        who=st.sampled_from(USERS),
        to=st.sampled_from([None, "open", "approval"]),
        data=st.data(),
    )
    def release(self, who: str, to: str | None, data: st.DataObject) -> None:
        self.exchanges = []
        customer = self.pick_customer(data, who)
        body: dict[str, Any] = {"reason": "无意向"}
        if to is not None:
            body["pool"] = self.pools[to].pk
        self.call(who, "post", f"/api/v1/customers/{customer}/release/", body)

    @rule(
        who=st.sampled_from(MANAGING),
        action=st.sampled_from(["assign", "transfer"]),
        to=st.sampled_from(USERS),
        override=st.booleans(),
        data=st.data(),
    )
    def give(self, who: str, action: str, to: str, override: bool, data: st.DataObject) -> None:
        self.exchanges = []
        customer = self.pick_customer(data, who)
        body = {"owner": self.users[to].pk, "reason": "调整", "override_cap": override}
        self.call(who, "post", f"/api/v1/customers/{customer}/{action}/", body)

    @rule(who=st.sampled_from(USERS), days=st.integers(-1, 14), data=st.data())
    def freeze(self, who: str, days: int, data: st.DataObject) -> None:
        self.exchanges = []
        customer = self.pick_customer(data, who)
        until = (timezone.now() + timedelta(days=days)).isoformat()
        self.call(
            who,
            "post",
            f"/api/v1/customers/{customer}/freeze/",
            {"until": until, "reason": "谈判中"},
        )

    @rule(who=st.sampled_from(USERS), data=st.data())
    def unfreeze(self, who: str, data: st.DataObject) -> None:
        self.exchanges = []
        customer = self.pick_customer(data, who)
        self.call(who, "post", f"/api/v1/customers/{customer}/unfreeze/", {"reason": "谈妥"})

    @rule(
        who=st.sampled_from(USERS),
        kind=st.sampled_from(["call", "visit", "note", "wechat", "meeting"]),
        data=st.data(),
    )
    def log_activity(self, who: str, kind: str, data: st.DataObject) -> None:
        self.exchanges = []
        customer = self.pick_customer(data, who)
        self.counter += 1
        body = {
            "kind": kind,
            "note": f"跟进备注{self.counter}：客户手机 1380{self.counter:07d}",
            "next_contact_at": (timezone.now() + timedelta(days=3)).isoformat(),
        }
        self.call(who, "post", f"/api/v1/customers/{customer}/activities/", body)

    @rule(who=st.sampled_from(USERS), data=st.data())
    def open_deal(self, who: str, data: st.DataObject) -> None:
        self.exchanges = []
        customer = self.pick_customer(data, who)
        self.counter += 1
        body = {"name": f"商机{self.counter}号合同", "amount": "18800.00", "stage": "proposal"}
        self.call(who, "post", f"/api/v1/customers/{customer}/deals/", body)

    @rule(who=st.sampled_from(USERS), stage=st.sampled_from(["won", "lost"]), data=st.data())
    def close_deal(self, who: str, stage: str, data: st.DataObject) -> None:
        self.exchanges = []
        deals = list(Deal.objects.order_by("id").values_list("customer_id", "id"))
        if not deals:
            return
        customer, deal = pick(data, deals, "deal")
        body = {"stage": stage, "lost_reason": "预算不足" if stage == "lost" else ""}
        self.call(who, "patch", f"/api/v1/customers/{customer}/deals/{deal}/", body)

    @rule(who=st.sampled_from(USERS), data=st.data())
    def add_contact(self, who: str, data: st.DataObject) -> None:
        self.exchanges = []
        customer = self.pick_customer(data, who)
        self.counter += 1
        body = {
            "name": f"联系人{self.counter}",
            "phones": [f"1370{self.counter:07d}"],
            "email": f"contact{self.counter}@mail{self.counter}.cn",
            "wechat": f"wx_contact_{self.counter}",
        }
        self.call(who, "post", f"/api/v1/customers/{customer}/contacts/", body)

    @rule(
        who=st.sampled_from(MANAGING),
        decision=st.sampled_from(["approve", "reject", "withdraw"]),
        data=st.data(),
    )
    def decide_claim_request(self, who: str, decision: str, data: st.DataObject) -> None:
        self.exchanges = []
        if decision == "withdraw" and not hasattr(ClaimRequestViewSet, "withdraw"):
            return
        ids = list(ClaimRequest.objects.order_by("id").values_list("id", flat=True))
        request = pick(data, [*ids, 999_999], "request")
        self.call(who, "post", f"/api/v1/claim-requests/{request}/{decision}/", {"note": "好"})

    @rule(
        who=st.sampled_from(USERS),
        method=st.sampled_from(["patch", "put"]),
        name=st.sampled_from(sorted(BUSINESS_EDITS)),
        valid=st.booleans(),
        data=st.data(),
    )
    def edit_business_field(
        self, who: str, method: str, name: str, valid: bool, data: st.DataObject
    ) -> None:
        self.exchanges = []
        customer = self.pick_customer(data, who)
        value = BUSINESS_EDITS[name][0 if valid else 1]
        body = self._edit_body(customer, method, {name: value})
        may_edit = visibility(self.users[who]).get(customer) == FULL
        self.call(
            who,
            method,
            f"/api/v1/customers/{customer}/",
            body,
            refused=not valid,
            refused_with="validation_error" if not valid and may_edit else None,
        )

    @rule(
        who=st.sampled_from(USERS),
        method=st.sampled_from(["patch", "put"]),
        name=st.sampled_from(sorted(LEVEL_STAGE_EDITS)),
        data=st.data(),
    )
    def edit_level_or_stage(self, who: str, method: str, name: str, data: st.DataObject) -> None:
        self.exchanges = []
        customer = self.pick_customer(data, who)
        value = data.draw(st.sampled_from(LEVEL_STAGE_EDITS[name]), label="value")
        found = Customer.objects.filter(pk=customer).values("level", "stage", "owner_id").first()
        row: dict[str, Any] = dict(found) if found is not None else {}
        expect: dict[str, Any] = {}
        if row and row[name] != value:
            if self.users[who].role == Role.REP and row["owner_id"] == self.users[who].pk:
                expect["refused_with"] = "permission_denied"
            elif name == "stage" and value == "won":
                won = Deal.objects.filter(customer_id=customer, stage="won").exists()
                if not won:
                    expect["refused"] = True
        body = self._edit_body(customer, method, {name: value})
        self.call(who, method, f"/api/v1/customers/{customer}/", body, **expect)

    @rule(
        who=st.sampled_from(USERS),
        method=st.sampled_from(["patch", "put"]),
        name=st.sampled_from(OWNERSHIP_FIELDS),
        data=st.data(),
    )
    def edit_ownership_field(self, who: str, method: str, name: str, data: st.DataObject) -> None:
        self.exchanges = []
        customer = self.pick_customer(data, who)
        value = data.draw(st.sampled_from(_ownership_values(self, name)), label="value")
        body = self._edit_body(customer, method, {name: value})
        may_edit = visibility(self.users[who]).get(customer) == FULL
        self.call(
            who,
            method,
            f"/api/v1/customers/{customer}/",
            body,
            refused=True,
            refused_with="validation_error" if may_edit else None,
            names_field=name,
        )

    def _edit_body(self, customer: int, method: str, changes: dict[str, Any]) -> dict[str, Any]:
        if method == "patch":
            return changes
        row = Customer.objects.filter(pk=customer).values(*BUSINESS_EDITS, "level", "stage")
        current = dict(row.first() or {"name": "无此客户"})
        current = {k: v for k, v in current.items() if v is not None}
        return {**current, **changes}

    @rule(
        who=st.sampled_from(MANAGING),
        dry_run=st.booleans(),
        when=st.sampled_from(["present", "clock", "none"]),
        scope=st.sampled_from([None, "open", "approval"]),
    )
    def sweep(self, who: str, dry_run: bool, when: str, scope: str | None) -> None:
        self.exchanges = []
        body: dict[str, Any] = {"dry_run": dry_run}
        if when == "clock":
            body["now"] = self.now().isoformat()
        elif when == "present":
            body["now"] = timezone.now().isoformat()
        if scope is not None:
            body["pool"] = self.pools[scope].pk
        self.call(who, "post", "/api/v1/sweeps/", body)

    @rule(hours=st.sampled_from([1, 12, 30, 49, 24 * 3, 24 * 6, 24 * 21]))
    def advance_clock(self, hours: int) -> None:
        self.exchanges = []
        self.offset += timedelta(hours=hours)

    @rule(
        who=st.sampled_from(MANAGING),
        pool=st.sampled_from(["open", "approval"]),
        idle_days=st.sampled_from([None, 1, 3, 30]),
        days=st.sampled_from([1, 7, 30]),
    )
    def recycle_preview(self, who: str, pool: str, idle_days: int | None, days: int) -> None:
        self.exchanges = []
        body: dict[str, Any] = {"days": days, "now": self.now().isoformat()}
        if idle_days is not None:
            body["recycle_policy"] = {"idle_days": idle_days}
        self.call(who, "post", f"/api/v1/pools/{self.pools[pool].pk}/recycle-preview/", body)

    @rule(
        who=st.sampled_from(MANAGING),
        pool=st.sampled_from([None, "open", "approval"]),
        dry_run=st.booleans(),
        clock=st.booleans(),
    )
    def assignment_run(self, who: str, pool: str | None, dry_run: bool, clock: bool) -> None:
        self.exchanges = []
        body: dict[str, Any] = {"dry_run": dry_run, "seed": 7}
        if clock:
            body["now"] = self.now().isoformat()
        if pool is not None:
            body["pool"] = self.pools[pool].pk
        self.call(who, "post", "/api/v1/assignment-runs/", body)

    @rule(
        who=st.sampled_from(MANAGING),
        pool=st.sampled_from(["open", "approval"]),
        change=st.sampled_from(POOL_CHANGES),
    )
    def edit_pool(self, who: str, pool: str, change: dict[str, Any]) -> None:
        self.exchanges = []
        self.call(who, "patch", f"/api/v1/pools/{self.pools[pool].pk}/", change)

    @rule(who=st.sampled_from(USERS), data=st.data())
    def edit_phone_to_anothers(self, who: str, data: st.DataObject) -> None:
        """An edit that would make a customer a duplicate of another."""
        self.exchanges = []
        customer = self.pick_customer(data, who)
        phones = list(Customer.objects.exclude(pk=customer).values_list("phone", flat=True))
        if not phones:
            return
        phone = pick(data, phones, "phone")
        self.call(who, "patch", f"/api/v1/customers/{customer}/", {"phone": phone})

    @rule(who=st.sampled_from(USERS), every=st.booleans())
    def read_notifications(self, who: str, every: bool) -> None:
        self.exchanges = []
        if every:
            self.call(who, "post", "/api/v1/notifications/read-all/", {})
            return
        mine = Notification.objects.order_by("-id").values_list("id", flat=True)[:1]
        for notification in [*mine, 999_999]:
            self.call(who, "post", f"/api/v1/notifications/{notification}/read/", {})

    @rule(
        who=st.sampled_from(USERS),
        what=st.sampled_from(
            [
                "list",
                "list_pooled",
                "detail",
                "ownership",
                "activities",
                "deals",
                "contacts",
                "explain",
                "search_name",
                "search_phone",
                "notifications",
                "me",
                "claim_requests",
                "assignment_runs",
                "pools",
            ]
        ),
        data=st.data(),
    )
    def read(self, who: str, what: str, data: st.DataObject) -> None:
        self.exchanges = []
        customer = self.pick_customer(data, who)
        row = Customer.objects.filter(pk=customer).values("name", "phone").first() or {
            "name": "无此客户",
            "phone": "13000000000",
        }
        path, params = {
            "list": ("/api/v1/customers/", None),
            "list_pooled": ("/api/v1/customers/", {"status": "pooled"}),
            "detail": (f"/api/v1/customers/{customer}/", None),
            "ownership": (f"/api/v1/customers/{customer}/ownership/", None),
            "activities": (f"/api/v1/customers/{customer}/activities/", None),
            "deals": (f"/api/v1/customers/{customer}/deals/", None),
            "contacts": (f"/api/v1/customers/{customer}/contacts/", None),
            "explain": (f"/api/v1/customers/{customer}/explain/", None),
            "search_name": ("/api/v1/search/", {"q": row["name"][:2]}),
            "search_phone": ("/api/v1/search/", {"q": row["phone"]}),
            "notifications": ("/api/v1/notifications/", None),
            "me": ("/api/v1/me/", None),
            "claim_requests": ("/api/v1/claim-requests/", None),
            "assignment_runs": ("/api/v1/assignment-runs/", None),
            "pools": ("/api/v1/pools/", None),
        }[what]
        self.call(who, "get", path, params)

    # -- after every step ----------------------------------------------------------------

    @invariant()
    def highseas_check_is_clean(self) -> None:
        now = Snapshot.take()
        if now == self.checked:
            return  # the same rows as at the last clean check
        # judged at the machine's clock: a sweep there may have sent (and cleared) a warning
        # whose moment is still ahead of the real time
        report = run_checks(now=self.now())
        assert report.ok, f"highseas check: {report.problems} {report.examples}"
        self.checked = now

    @invariant()
    def answers_are_stable(self) -> None:
        for ex in self.exchanges:
            assert ex.status < 500, f"{ex.status} for {ex.who} {ex.method} {ex.path}"
            if ex.status >= 400:
                assert isinstance(ex.body, dict), ex
                assert ex.body.get("code") in ERROR_CODES, (ex.path, ex.body)
                assert ex.body.get("detail"), (ex.path, ex.body)

    @invariant()
    def refusals_leave_no_trace(self) -> None:
        for ex in self.exchanges:
            if 400 <= ex.status < 500:
                after = Snapshot.take()
                assert after == ex.before, f"{ex.who} {ex.method} {ex.path} {ex.sent} → {ex.body}"

    @invariant()
    def expected_answers(self) -> None:
        for ex in self.exchanges:
            code = ex.body.get("code") if isinstance(ex.body, dict) else None
            where = f"{ex.who} {ex.method} {ex.path} {ex.sent} → {ex.status} {ex.body}"
            if ex.expect.get("refused_with"):
                assert ex.status >= 400, where
                if ex.status != 404:  # a customer the caller cannot see stays unseen
                    assert code == ex.expect["refused_with"], where
            if ex.expect.get("refused"):
                assert ex.status >= 400, where
            if ex.expect.get("names_field") and ex.status == 400:
                assert ex.expect["names_field"] in json.dumps(ex.body.get("errors", ex.body)), where

    @invariant()
    def nobody_receives_what_they_may_not_see(self) -> None:
        for ex in self.exchanges:
            if ex.body is None:
                continue
            user = self.users[ex.who]
            seen_after = visibility(user)
            seen = {**ex.seen_before, **seen_after}
            full = {c for c, how in ex.seen_before.items() if how == FULL} | {
                c for c, how in seen_after.items() if how == FULL
            }
            where = f"{ex.who} {ex.method} {ex.path} {ex.sent}"
            for item in customer_dicts(ex.body):
                assert item["id"] in seen, f"{where} received customer {item['id']}"
            if ex.path.startswith(
                ("/api/v1/sweeps/", "/api/v1/pools/", "/api/v1/assignment-runs/")
            ) or ex.path.endswith("/explain/"):
                extra = mentioned_customers(ex.body) - set(seen)
                assert not extra, f"{where} was told about customers {extra}: {ex.body}"
            self._no_private_values(ex, user, seen, full, where)
            if user.role == Role.REP:
                self._masked_for_reps(ex, full, where)

    def _no_private_values(
        self, ex: Exchange, user: User, seen: dict[int, str], full: set[int], where: str
    ) -> None:
        everyone = set(Customer.objects.values_list("id", flat=True))
        hidden = private_values(everyone - set(seen), masked_only=False)
        masked = private_values(set(seen) - full, masked_only=True) if user.role == Role.REP else {}
        text = json.dumps(ex.body, ensure_ascii=False, default=str)
        sent = json.dumps(ex.sent, ensure_ascii=False, default=str)
        for values in (hidden, masked):
            for cid, private in values.items():
                for value in private:
                    if value in text and value not in sent:
                        raise AssertionError(f"{where} received {value!r} of customer {cid}")

    def _masked_for_reps(self, ex: Exchange, full: set[int], where: str) -> None:
        for item in customer_dicts(ex.body):
            if item["id"] in full:
                continue
            row = Customer.objects.filter(pk=item["id"]).values(*PRIVATE_FIELDS, "pool_id").first()
            if row is None or row["pool_id"] is None:
                continue
            for name in Pool.objects.get(pk=row["pool_id"]).masked_fields:
                if name in item and row.get(name):
                    assert item[name] != row[name] and "*" in str(item[name]), (
                        f"{where}: {name} of customer {item['id']} unmasked: {item[name]!r}"
                    )
                    assert name in item["masked_fields"], (where, item)

    @invariant()
    def answers_match_the_rows(self) -> None:
        """What an answer says about a customer's ownership, and ``me/`` about the caller's
        holdings, is what the database holds after the step."""
        for ex in self.exchanges:
            if not 200 <= ex.status < 300:
                continue
            where = f"{ex.who} {ex.method} {ex.path} {ex.sent}"
            for item in customer_dicts(ex.body):
                row = Customer.objects.filter(pk=item["id"]).values("status", "owner", "pool")
                assert row.first() == {k: item[k] for k in ("status", "owner", "pool")}, (
                    f"{where} answered {item} but the row is {row.first()}"
                )
            if ex.path == "/api/v1/me/":
                held = Customer.objects.filter(
                    owner=self.users[ex.who], status__in=["owned", "frozen"]
                ).count()
                assert ex.body["holdings"] == held, (where, ex.body)

    @invariant()
    def ledger_rows_name_their_actor(self) -> None:
        for ex in self.exchanges:
            caller = self.users[ex.who].pk
            for actor, label, kind in OwnershipEvent.objects.filter(
                pk__gt=ex.ledger_mark
            ).values_list("actor_id", "actor_label", "kind"):
                if label.startswith("system:rule:"):
                    assert actor is None, (ex.path, actor, label)
                    assert int(label.rsplit(":", 1)[1]) in self.rules, label
                    continue
                if actor is None:
                    assert label.startswith("system:"), (ex.path, label, kind)
                else:
                    assert actor == caller, f"{ex.who} {ex.path}: {kind} by user {actor} ({label})"


SETTINGS = settings(
    max_examples=int(os.environ.get("HIGHSEAS_STATEFUL_EXAMPLES", "25")),
    stateful_step_count=int(os.environ.get("HIGHSEAS_STATEFUL_STEPS", "25")),
    deadline=None,
    derandomize=bool(os.environ.get("CI")),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@pytest.mark.django_db
def test_every_action_by_every_role_keeps_the_promises(settings: Any) -> None:
    settings.ALLOW_TIME_TRAVEL = True
    run_state_machine_as_test(ApiMachine, settings=SETTINGS)
    if os.environ.get("HIGHSEAS_STATEFUL_STATS"):
        for key, count in sorted(STATS.items()):
            print(*key, count)


# Plain regressions for what the machine found, one behaviour each.


@pytest.mark.django_db
def test_a_pool_edit_answers_with_the_policies_it_saved(
    org: dict[str, Any], api: Callable[[User], APIClient]
) -> None:
    pool = org["east_pool"]
    response = api(org["admin"]).patch(
        f"/api/v1/pools/{pool.pk}/", {"claim_policy": {"daily_quota": 1}}, format="json"
    )
    assert response.status_code == 200, response.content
    assert ClaimPolicy.objects.get(pool=pool).daily_quota == 1
    assert response.json()["claim_policy"]["daily_quota"] == 1


@pytest.mark.django_db
def test_lowering_a_cap_below_holdings_keeps_the_check_clean(
    org: dict[str, Any],
    api: Callable[[User], APIClient],
    make_customer: Callable[..., Customer],
) -> None:
    pool = org["east_pool"]
    for _ in range(2):
        customer = make_customer(org["admin"], pool=pool)
        claimed = api(org["rep_a"]).post(f"/api/v1/customers/{customer.pk}/claim/", {})
        assert claimed.status_code == 200, claimed.content
    edited = api(org["admin"]).patch(
        f"/api/v1/pools/{pool.pk}/", {"claim_policy": {"holding_cap": 1}}, format="json"
    )
    assert edited.status_code == 200, edited.content
    report = run_checks()
    assert report.ok, report.examples
