"""`highseas demo`: deterministic, consistent with every invariant, realistic, and refusing to
run twice over its own data."""

from __future__ import annotations

import io
import re
from datetime import datetime
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.db.models import Count, Q
from django.utils import translation

from highseas.accounts.models import Team, User
from highseas.config.management.commands import demo as demo_command
from highseas.customers.fts import PINYIN_TABLE
from highseas.customers.models import Activity, Contact, Customer, Deal
from highseas.demo import data, generator
from highseas.demo.generator import DemoOptions, generate_demo
from highseas.demo.roster import DEMO_PASSWORD, TEAMS
from highseas.engine.ownership import Status
from highseas.engine.pinyin import pinyin_keys
from highseas.intake.creation import create_customer
from highseas.pools.invariants import run_checks
from highseas.pools.models import OwnershipEvent, Pool
from highseas.pools.schedule import schedule_for
from highseas.smart.models import WinModelVersion

pytestmark = pytest.mark.django_db

CUSTOMERS = 300
CJK = re.compile("[\u4e00-\u9fff]")
NOW = "2026-05-18T00:00:00+08:00"


@pytest.fixture
def initialized() -> None:
    call_command("init", admin_username="admin", admin_password="Admin#2026", stdout=io.StringIO())


def _demo(*args: str) -> str:
    out = io.StringIO()
    call_command(
        "demo", "--customers", str(CUSTOMERS), "--now", NOW, "--no-progress", *args, stdout=out
    )
    return out.getvalue()


def _snapshot() -> dict[str, Any]:
    """Everything a user could see, with users and pools by name rather than by id."""
    customers = Customer.objects.order_by("id").values_list(
        "name", "kind", "phone", "email", "credit_code", "province", "city", "industry",
        "employees", "revenue_band", "level", "stage", "tags", "status", "owner__username",
        "pool__name", "previous_owner__username", "created_at", "owned_since", "frozen_until",
        "last_effective_activity_at", "recycle_due_at", "warn_at",
    )  # fmt: skip
    ledger = OwnershipEvent.objects.order_by("id").values_list(
        "customer__name", "kind", "from_owner__username", "to_owner__username", "actor_label",
        "reason", "at",
    )  # fmt: skip
    activities = Activity.objects.order_by("id").values_list(
        "customer__name", "kind", "occurred_at", "author__username", "note", "next_contact_at"
    )
    deals = Deal.objects.order_by("id").values_list(
        "customer__name", "name", "amount", "stage", "won_at", "lost_at", "lost_reason"
    )
    contacts = Contact.objects.order_by("id").values_list("customer__name", "name", "phones")
    users = User.objects.exclude(username="admin").order_by("username")
    return {
        "customers": list(customers),
        "ledger": list(ledger),
        "activities": list(activities),
        "deals": list(deals),
        "contacts": list(contacts),
        "users": list(users.values_list("username", "display_name", "role", "team__name")),
    }


def test_the_same_seed_size_and_now_give_identical_data(initialized: None) -> None:
    _demo()
    first = _snapshot()
    _demo("--reset")
    second = _snapshot()
    assert len(first["customers"]) == CUSTOMERS
    assert first == second


def test_another_seed_gives_other_data(initialized: None) -> None:
    _demo()
    first = _snapshot()
    _demo("--reset", "--seed", "7")
    second = _snapshot()
    assert first["customers"] != second["customers"]
    assert {row[0] for row in first["customers"]} != {row[0] for row in second["customers"]}


def test_generating_in_a_second_process_gives_the_same_data(initialized: None) -> None:
    now = datetime.fromisoformat(NOW)
    options = DemoOptions(customers=CUSTOMERS, now=now, batch_size=70, parallel=False)
    generate_demo(options)
    inline = _snapshot()
    generate_demo(DemoOptions(customers=CUSTOMERS, now=now, batch_size=70, reset=True))
    assert _snapshot() == inline


def test_highseas_check_passes_after_the_demo(initialized: None) -> None:
    _demo()
    report = run_checks()
    assert report.ok, report.examples
    assert report.customers == CUSTOMERS
    assert report.events == OwnershipEvent.objects.count()


@pytest.mark.parametrize("bulk", [False, True], ids=["per-row-indexing", "indexes-suspended"])
def test_every_core_name_has_the_pinyin_a_search_needs(
    initialized: None, bulk: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The demo writes each batch's pinyin with the batch: what ``fill_pinyin`` computes, for
    every core name, with none left waiting, whether the search index is kept row by row or
    rebuilt after the load.

    The pinyin table belongs to no model, so the flush after a transactional test leaves its
    rows, and a core name of an earlier test may still wait: what waits is judged by this
    demo's core names only."""
    monkeypatch.setattr(generator, "SUSPEND_INDEXES_FROM", CUSTOMERS if bulk else CUSTOMERS + 1)
    waiting: list[set[str]] = []  # at each pass after the load, the core names still waiting
    real_fill = generator.fill_pinyin

    def fill(db: Any) -> int:
        with db.cursor() as cursor:
            cursor.execute(f"SELECT core FROM {PINYIN_TABLE} WHERE pinyin IS NULL")
            waiting.append({core for (core,) in cursor.fetchall()})
        return real_fill(db)

    monkeypatch.setattr(generator, "fill_pinyin", fill)
    now = datetime.fromisoformat(NOW)
    generate_demo(DemoOptions(customers=CUSTOMERS, now=now, batch_size=70, parallel=False))
    cores = set(Customer.objects.exclude(name_key=None).values_list("name_key", flat=True))
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT core, pinyin, initials FROM {PINYIN_TABLE}")
        stored = {core: (pinyin, initials) for core, pinyin, initials in cursor.fetchall()}
    assert len(cores) > CUSTOMERS // 2
    assert {core: stored.get(core) for core in cores} == {core: pinyin_keys(core) for core in cores}
    assert len(waiting) == 1  # one pass after the load,
    assert not waiting[0] & cores  # which found none of the demo's names left for it


def test_every_customer_is_in_a_real_province_and_city(initialized: None) -> None:
    _demo()
    real = {(province.name, city.name) for province in data.PROVINCES for city in province.cities}
    regions = set(Customer.objects.values_list("province", "city"))
    assert regions <= real
    assert len(regions) > 30


def test_the_status_mix_is_within_the_stated_bounds(initialized: None) -> None:
    _demo()
    counts = dict(Customer.objects.values_list("status").annotate(n=Count("id")))
    assert 0.30 <= counts["pooled"] / CUSTOMERS <= 0.45
    assert 0.01 <= counts["frozen"] / CUSTOMERS <= 0.10
    assert counts["pooled"] + counts["owned"] + counts["frozen"] == CUSTOMERS


def test_every_owner_is_an_employed_rep_of_the_pools_team(initialized: None) -> None:
    _demo()
    owned = Customer.objects.exclude(status="pooled").select_related("owner__team", "pool")
    member_team = {pool.pk: set(pool.member_teams.values_list("pk", flat=True))
                   for pool in Pool.objects.all()}  # fmt: skip
    for customer in owned:
        owner = customer.owner
        assert owner is not None and owner.role == "rep" and owner.is_active
        assert owner.team is not None and customer.pool_id is not None
        team_and_parent = {owner.team.pk, owner.team.parent_id}
        assert team_and_parent & member_team[customer.pool_id], customer.name


def test_ledgers_start_at_creation_and_move_forward_until_now(initialized: None) -> None:
    _demo()
    now = datetime.fromisoformat(NOW)
    created = dict(Customer.objects.values_list("id", "created_at"))
    previous: dict[int, datetime] = {}
    for customer_id, kind, at, reason in OwnershipEvent.objects.order_by("id").values_list(
        "customer_id", "kind", "at", "reason"
    ):
        if customer_id not in previous:
            assert kind == "created" and at == created[customer_id]
        else:
            assert at > previous[customer_id]
        assert at <= now and reason
        previous[customer_id] = at
    assert not Activity.objects.filter(occurred_at__gt=now).exists()


def test_owned_customers_carry_the_engines_recycle_schedule(initialized: None) -> None:
    _demo()
    now = datetime.fromisoformat(NOW)
    owned = Customer.objects.exclude(status="pooled").select_related("pool__recycle_policy")
    for customer in owned:
        plan = schedule_for(
            customer, status=Status(customer.status), owned_since=customer.owned_since,
            pool=customer.pool,
        )  # fmt: skip
        assert (customer.recycle_due_at, customer.warn_at) == (plan.due_at, plan.warn_at)
        assert customer.recycle_due_at is None or customer.recycle_due_at > now
    assert owned.filter(recycle_due_at__isnull=False).exists()


def test_won_customers_have_a_won_deal_and_lost_deals_a_reason(initialized: None) -> None:
    _demo()
    won = set(Customer.objects.filter(stage="won").values_list("id", flat=True))
    assert won == set(Deal.objects.filter(stage="won").values_list("customer_id", flat=True))
    assert not Deal.objects.filter(stage="lost", lost_reason="").exists()
    assert not Deal.objects.filter(stage="won", won_at=None).exists()


def test_the_demo_refuses_to_run_twice_without_reset(initialized: None) -> None:
    _demo()
    before = _snapshot()
    with pytest.raises(CommandError, match="--reset"):
        _demo()
    assert _snapshot() == before
    assert Team.objects.filter(name=TEAMS[0].name).count() == 1


def _customer_outside_the_demo(owner: User) -> Customer:
    fields = {"name": "演示之外的客户有限公司", "phone": "13900000001"}
    pool = Pool.objects.get(is_default=True)
    return create_customer(actor=owner, fields=fields, owner=owner, pool=pool).customer


def test_rows_created_after_the_demo_get_fresh_ids(initialized: None) -> None:
    _demo()
    largest = Customer.objects.order_by("-id").values_list("id", flat=True).first()
    largest_event = OwnershipEvent.objects.order_by("-id").values_list("id", flat=True).first()
    customer = _customer_outside_the_demo(User.objects.get(username="rep01"))
    assert largest is not None and largest_event is not None
    assert customer.pk > largest
    assert customer.ownership_events.get().pk > largest_event


def test_reset_refuses_and_keeps_everything_when_other_data_uses_a_demo_rep(
    initialized: None,
) -> None:
    _demo()
    _customer_outside_the_demo(User.objects.get(username="rep01"))
    before = _snapshot()
    with pytest.raises(CommandError, match="refers to demo"):
        _demo("--reset")
    assert _snapshot() == before


def test_the_demo_needs_an_initialized_database() -> None:
    with pytest.raises(CommandError, match="highseas init"):
        _demo()
    assert not Customer.objects.exists()


def test_the_demo_prints_a_summary_and_logins_that_work(initialized: None) -> None:
    output = _demo()
    assert f"customers      {CUSTOMERS}" in output
    for username in ("manager_east", "manager_key", "rep01", "rep30"):
        assert username in output
    assert DEMO_PASSWORD in output
    assert User.objects.get(username="rep01").check_password(DEMO_PASSWORD)
    assert Team.objects.get(name="华东销售部").manager == User.objects.get(username="manager_east")


def test_the_demos_system_reasons_are_codes_that_read_in_the_readers_language(
    initialized: None,
) -> None:
    _demo()
    rows = list(OwnershipEvent.objects.all())
    by_code = {row.reason_code for row in rows if row.reason_code}
    assert {"claimed", "first_contact_limit"} <= by_code
    assert by_code & {"web_form_lead", "ad_lead", "imported"}
    recycled = [row for row in rows if row.kind == "recycled"]
    assert recycled and all(row.reason_code for row in recycled)
    with translation.override("en"):
        english = {row.reason_text for row in rows if row.reason_code}
    assert not any(CJK.search(text) for text in english if not _campaign_of(text))
    with translation.override("zh-hans"):
        assert "从公海领取" in {row.reason_text for row in rows if row.reason_code == "claimed"}


def _campaign_of(text: str) -> bool:
    """A lead's campaign is the source's own (Chinese) name, data rather than a system text."""
    return text.startswith(("Lead from", "Lead synced", "Imported from"))


def test_the_demo_prints_every_phase_and_an_elapsed_time_that_covers_them_all(
    initialized: None,
) -> None:
    output = _demo()
    phases = re.findall(r"^ +(\d+\.\d)s  (.+)$", output, flags=re.MULTILINE)
    names = [name for _seconds, name in phases]
    for name in ("organization", "customers generated and written", "pinyin", "win model"):
        assert name in names, output
    assert any(name.startswith("per-rep days") for name in names)
    (elapsed,) = re.findall(r"^  elapsed +(\d+\.\d)s$", output, flags=re.MULTILINE)
    # the phases follow each other: together they are the whole command (each rounded)
    assert float(elapsed) == pytest.approx(
        sum(float(seconds) for seconds, _name in phases), abs=0.05 * len(phases) + 0.05
    )


def test_a_small_demo_trains_its_first_model_on_every_decided_deal(initialized: None) -> None:
    output = _demo()
    version = WinModelVersion.objects.get()
    decided = Deal.objects.filter(owner__isnull=False).exclude(won_at=None, lost_at=None)
    assert version.trigger == WinModelVersion.Trigger.DEMO and version.deals == decided.count()
    assert "latest deals" not in output


def test_a_large_demo_trains_its_first_model_on_its_latest_deals_only(
    initialized: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The bound keeps training short at any size; the model learns from the most recent
    history and says so (``highseas train`` takes all of it)."""
    monkeypatch.setattr(demo_command, "TRAIN_ON_DEALS", 20)
    output = _demo()
    version = WinModelVersion.objects.get()
    decided = Deal.objects.filter(owner__isnull=False).exclude(won_at=None, lost_at=None)
    since = demo_command.recent_deals_since(datetime.fromisoformat(NOW), 20)
    assert since is not None and decided.count() > 40
    latest = decided.filter(Q(won_at__gte=since) | Q(lost_at__gte=since))
    assert version.deals == latest.count() and 20 <= version.deals < decided.count()
    assert version.since is not None and version.since >= since
    assert "the 20 latest deals" in output
