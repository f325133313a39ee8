"""Departure handover (离职交接, SPEC "API essentials, second part", "People change"): a rep's
customers go to a colleague, through the rules or back to their pools, through the ownership
services; the preview is the run rolled back; a killed run resumes without loss or doubling;
a rep who still owns customers cannot be deactivated; ``check`` reports stranded customers."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from highseas.accounts import services as accounts
from highseas.accounts.models import RepProfile, User
from highseas.accounts.visibility import Viewer
from highseas.customers.models import Customer, Deal, Task
from highseas.engine.errors import ErrorCode, HighSeasError
from highseas.notify.models import Notification
from highseas.pools import ownership
from highseas.pools.followups import open_deal
from highseas.pools.invariants import run_checks
from highseas.pools.models import OwnershipEvent, Pool
from highseas.routing.handover import handover
from highseas.routing.models import AssignmentRule

pytestmark = pytest.mark.django_db

MakeCustomer = Callable[..., Customer]
REP_CUSTOMERS = 300
FROZEN = 20
WITH_DEALS = 30
CAP = 250


def set_cap(pool: Pool, cap: int | None) -> None:
    pool.claim_policy.holding_cap = cap
    pool.claim_policy.save()


@pytest.fixture
def book(org: dict[str, Any], make_customer: MakeCustomer) -> list[Customer]:
    """rep_a's 300 customers: the first 20 frozen, the next 30 with an open deal and an open
    task (and one won deal, which stays theirs)."""
    rep = org["rep_a"]
    customers = [make_customer(rep, owner=rep, pool=org["east_pool"]) for _ in range(REP_CUSTOMERS)]
    until = timezone.now() + timedelta(days=10)
    for customer in customers[:FROZEN]:
        ownership.freeze(rep, customer.pk, until=until, reason="签约中")
    for customer in customers[FROZEN : FROZEN + WITH_DEALS]:
        open_deal(rep, customer.pk, amount=Decimal("1000"))
        Task.objects.create(customer=customer, title="回访", assignee=rep)
    open_deal(rep, customers[-1].pk, amount=Decimal("500"), stage="won")
    return customers


@pytest.fixture
def few(org: dict[str, Any], make_customer: MakeCustomer) -> list[Customer]:
    """rep_a's five customers, for the refusals (which move none)."""
    rep = org["rep_a"]
    return [make_customer(rep, owner=rep, pool=org["east_pool"]) for _ in range(5)]


def ledger(kind: str) -> Counter[int]:
    # written in the acting thread's language: English in the tests, Chinese by default
    rows = OwnershipEvent.objects.filter(kind=kind, reason__in=["Departure handover", "离职交接"])
    return Counter(rows.values_list("customer_id", flat=True))


def owned_by(user: User) -> int:
    return Customer.objects.filter(owner=user).count()


def assert_clean() -> None:
    report = run_checks()
    assert report.ok, (report.problems, report.examples)


def as_viewer(user: User) -> Viewer:
    return Viewer(user)


# --- to a colleague ----------------------------------------------------------------------------


def test_the_run_moves_exactly_what_the_preview_showed_and_the_preview_writes_nothing(
    org: dict[str, Any], book: list[Customer]
) -> None:
    set_cap(org["east_pool"], CAP)
    manager, rep_a, rep_b = org["east_manager"], org["rep_a"], org["rep_b"]
    rows_before = OwnershipEvent.objects.count()
    preview = handover(as_viewer(manager), rep_a.pk, to=rep_b.pk, dry_run=True)
    assert OwnershipEvent.objects.count() == rows_before
    assert owned_by(rep_a) == REP_CUSTOMERS
    assert len(preview.moved) == CAP
    assert preview.by_owner() == [{"to_owner": rep_b.pk, "customers": CAP}]
    assert [m["was_frozen"] for m in preview.moved] == [i < FROZEN for i in range(CAP)]
    followed = [(m["deals"], m["tasks"]) for m in preview.moved]
    assert followed == [(1, 1) if FROZEN <= i < FROZEN + WITH_DEALS else (0, 0) for i in range(CAP)]
    assert preview.problems == [
        {"customer": c.pk, "code": "holding_cap_reached"} for c in book[CAP:]
    ]
    run = handover(as_viewer(manager), rep_a.pk, to=rep_b.pk, dry_run=False)
    assert (run.moved, run.problems) == (preview.moved, preview.problems)
    assert (owned_by(rep_b), owned_by(rep_a), run.remaining) == (CAP, REP_CUSTOMERS - CAP, 50)
    assert ledger("transferred") == Counter(c.pk for c in book[:CAP])
    assert_clean()


def test_frozen_customers_are_unfrozen_by_the_transfer_and_deals_and_tasks_follow(
    org: dict[str, Any], book: list[Customer]
) -> None:
    rep_a, rep_b = org["rep_a"], org["rep_b"]
    handover(as_viewer(org["admin"]), rep_a.pk, to=rep_b.pk, dry_run=False)
    frozen = [c.pk for c in book[:FROZEN]]
    assert set(Customer.objects.filter(pk__in=frozen).values_list("status", flat=True)) == {"owned"}
    assert OwnershipEvent.objects.filter(customer_id__in=frozen, kind="unfrozen").count() == FROZEN
    open_deals = Deal.objects.exclude(stage__in=["won", "lost"])
    assert set(open_deals.values_list("owner_id", flat=True)) == {rep_b.pk}
    assert Deal.objects.get(stage="won").owner_id == rep_a.pk
    assert set(Task.objects.values_list("assignee_id", flat=True)) == {rep_b.pk}
    assert owned_by(rep_b) == REP_CUSTOMERS
    assert_clean()


def test_a_run_killed_halfway_resumes_and_moves_every_customer_exactly_once(
    org: dict[str, Any], book: list[Customer]
) -> None:
    rep_a, rep_b, manager = org["rep_a"], org["rep_b"], org["east_manager"]

    def killed_after_three(batches: int) -> None:
        if batches == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        handover(
            as_viewer(manager),
            rep_a.pk,
            to=rep_b.pk,
            dry_run=False,
            batch_size=10,
            after_batch=killed_after_three,
        )
    assert (owned_by(rep_b), owned_by(rep_a)) == (30, REP_CUSTOMERS - 30)
    resumed = handover(as_viewer(manager), rep_a.pk, to=rep_b.pk, dry_run=False, batch_size=10)
    assert [m["customer"] for m in resumed.moved] == [c.pk for c in book[30:]]
    assert ledger("transferred") == Counter(c.pk for c in book)
    assert (owned_by(rep_b), owned_by(rep_a), resumed.remaining) == (REP_CUSTOMERS, 0, 0)
    assert_clean()


def test_receivers_are_notified_by_the_run_and_not_by_the_preview(
    org: dict[str, Any], book: list[Customer], django_capture_on_commit_callbacks: Any
) -> None:
    rep_a, rep_b = org["rep_a"], org["rep_b"]
    with django_capture_on_commit_callbacks(execute=True):
        handover(as_viewer(org["admin"]), rep_a.pk, to=rep_b.pk, dry_run=True)
    assert not Notification.objects.filter(recipient=rep_b).exists()
    with django_capture_on_commit_callbacks(execute=True):
        handover(as_viewer(org["admin"]), rep_a.pk, to=rep_b.pk, dry_run=False)
    assert Notification.objects.filter(recipient=rep_b).count() == REP_CUSTOMERS


# --- to the pools and through the rules --------------------------------------------------------


def test_to_pools_releases_every_customer_into_its_own_pool(
    org: dict[str, Any], book: list[Customer]
) -> None:
    rep_a = org["rep_a"]
    preview = handover(as_viewer(org["admin"]), rep_a.pk, to="pools", dry_run=True)
    run = handover(as_viewer(org["admin"]), rep_a.pk, to="pools", dry_run=False)
    assert run.moved == preview.moved
    assert [(m["customer"], m["to_owner"], m["to_pool"]) for m in run.moved] == [
        (c.pk, None, org["east_pool"].pk) for c in book
    ]
    assert [m["was_frozen"] for m in run.moved] == [i < FROZEN for i in range(REP_CUSTOMERS)]
    assert {(m["deals"], m["tasks"]) for m in run.moved} == {(0, 0)}
    assert run.problems == []
    assert ledger("released") == Counter(c.pk for c in book)
    assert set(Customer.objects.values_list("status", flat=True)) == {"pooled"}
    assert_clean()


def test_to_rules_routes_the_released_customers_never_back_to_the_departing_rep(
    org: dict[str, Any], book: list[Customer]
) -> None:
    rep_a, rep_b = org["rep_a"], org["rep_b"]
    AssignmentRule.objects.create(
        name="华东", target={"team": org["east"].pk, "strategy": "round_robin"}, conditions={}
    )
    preview = handover(as_viewer(org["admin"]), rep_a.pk, to="rules", dry_run=True)
    run = handover(as_viewer(org["admin"]), rep_a.pk, to="rules", dry_run=False)
    assert (run.moved, run.problems) == (preview.moved, preview.problems)
    receivers = Counter(m["to_owner"] for m in run.moved)
    assert rep_a.pk not in receivers and None not in receivers
    assert sum(receivers.values()) == REP_CUSTOMERS
    assert receivers[rep_b.pk] > 0
    assert ledger("released") == Counter(c.pk for c in book)
    assert RepProfile.objects.get(user=rep_a).is_active
    assert_clean()


def test_to_rules_fills_a_receiver_up_to_their_cap_and_gives_the_rest_to_the_others(
    org: dict[str, Any],
    book: list[Customer],
    make_user: Callable[..., User],
    make_customer: MakeCustomer,
) -> None:
    """One receiver the rules reach holds 8 of a cap of 10: they get exactly 2, as previewed."""
    rep_a, rep_b = org["rep_a"], org["rep_b"]
    rep_d = make_user("rep", "rep_d", team=org["east"], holding_cap_override=10)
    for _ in range(8):
        make_customer(rep_d, owner=rep_d, pool=org["east_pool"])
    AssignmentRule.objects.create(
        name="华东", target={"team": org["east"].pk, "strategy": "round_robin"}, conditions={}
    )
    preview = handover(as_viewer(org["admin"]), rep_a.pk, to="rules", dry_run=True)
    run = handover(as_viewer(org["admin"]), rep_a.pk, to="rules", dry_run=False)
    assert (run.moved, run.problems, run.remaining) == (preview.moved, preview.problems, 0)
    receivers = Counter(m["to_owner"] for m in run.moved)
    assert receivers[rep_d.pk] == 2 and owned_by(rep_d) == 10
    assert rep_a.pk not in receivers and None not in receivers
    assert receivers[rep_b.pk] + receivers[org["east_manager"].pk] == REP_CUSTOMERS - 2
    moved_deals = sum(m["deals"] for m in run.moved)
    moved_tasks = sum(m["tasks"] for m in run.moved)
    assert (moved_deals, moved_tasks) == (WITH_DEALS, WITH_DEALS)
    assert sum(m["was_frozen"] for m in run.moved) == FROZEN
    assert_clean()


def test_to_rules_with_no_rule_leaves_the_customers_pooled_and_says_so(
    org: dict[str, Any], book: list[Customer]
) -> None:
    run = handover(as_viewer(org["admin"]), org["rep_a"].pk, to="rules", dry_run=False)
    assert run.problems == [{"customer": c.pk, "code": "no_rule"} for c in book]
    assert {m["to_owner"] for m in run.moved} == {None}
    assert_clean()


# --- refusals leave no trace -------------------------------------------------------------------


def _refused(viewer: User, user: User, to: Any) -> HighSeasError:
    rows = OwnershipEvent.objects.count()
    with pytest.raises(HighSeasError) as refused:
        handover(as_viewer(viewer), user.pk, to=to, dry_run=False)
    assert OwnershipEvent.objects.count() == rows
    return refused.value


def test_a_rep_may_not_hand_over_anyone(org: dict[str, Any], few: list[Customer]) -> None:
    refusal = _refused(org["rep_b"], org["rep_a"], org["rep_b"].pk)
    assert refusal.code is ErrorCode.PERMISSION_DENIED


def test_a_manager_may_not_hand_over_a_rep_outside_their_subtree(
    org: dict[str, Any], few: list[Customer]
) -> None:
    refusal = _refused(org["south_manager"], org["rep_a"], "pools")
    assert refusal.code is ErrorCode.NOT_FOUND


def test_a_manager_may_not_give_to_a_receiver_outside_their_subtree(
    org: dict[str, Any], few: list[Customer]
) -> None:
    refusal = _refused(org["east_manager"], org["rep_a"], org["rep_c"].pk)
    assert refusal.code is ErrorCode.PERMISSION_DENIED
    assert owned_by(org["rep_a"]) == len(few)


def test_an_inactive_receiver_is_refused(org: dict[str, Any], few: list[Customer]) -> None:
    accounts.update_user(org["rep_b"], is_active=False)
    refusal = _refused(org["admin"], org["rep_a"], org["rep_b"].pk)
    assert refusal.code is ErrorCode.VALIDATION_ERROR


# --- deactivation and check --------------------------------------------------------------------


def test_deactivation_is_refused_until_the_rep_owns_none(
    org: dict[str, Any], book: list[Customer]
) -> None:
    admin, rep_a = org["admin"], org["rep_a"]
    with pytest.raises(HighSeasError) as refused:
        accounts.change_user(admin, rep_a, is_active=False)
    assert (refused.value.code, refused.value.facts) == (
        ErrorCode.HANDOVER_REQUIRED,
        {"owned": REP_CUSTOMERS},
    )
    rep_a.refresh_from_db()
    assert rep_a.is_active
    handover(as_viewer(admin), rep_a.pk, to=org["rep_b"].pk, dry_run=False)
    accounts.change_user(admin, rep_a, is_active=False)
    rep_a.refresh_from_db()
    assert not rep_a.is_active
    assert_clean()


def test_check_reports_a_customer_owned_by_an_inactive_user(
    org: dict[str, Any], make_customer: MakeCustomer
) -> None:
    customer = make_customer(org["rep_a"], owner=org["rep_a"], pool=org["east_pool"])
    assert_clean()
    User.objects.filter(pk=org["rep_a"].pk).update(is_active=False)  # behind the services
    report = run_checks()
    assert report.problems == {"owner_inactive": 1}
    assert report.examples == [f"owner_inactive: customer {customer.pk} (user {org['rep_a'].pk})"]


def test_a_customer_moved_away_meanwhile_is_left_with_its_new_owner(
    org: dict[str, Any], book: list[Customer], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Between listing a batch and moving it, a manager gives one customer to someone else:
    the handover takes only what the departing rep still owns."""
    from highseas.routing import handover as module

    real_batch = module._batch
    moved_away = book[3]

    def batch_after_a_transfer(
        viewer: Any, rep: User, receiver: Any, ids: list[int], *a: Any
    ) -> None:
        if moved_away.pk in ids and moved_away.owner_id == rep.pk:
            ownership.transfer(org["admin"], moved_away.pk, org["rep_c"])
            moved_away.owner_id = org["rep_c"].pk
        real_batch(viewer, rep, receiver, ids, *a)

    monkeypatch.setattr(module, "_batch", batch_after_a_transfer)
    run = handover(as_viewer(org["admin"]), org["rep_a"].pk, to=org["rep_b"].pk, dry_run=False)
    assert Customer.objects.get(pk=moved_away.pk).owner_id == org["rep_c"].pk
    assert moved_away.pk not in {m["customer"] for m in run.moved}
    assert ledger("transferred")[moved_away.pk] == 0
    assert owned_by(org["rep_b"]) == REP_CUSTOMERS - 1


@pytest.mark.django_db(transaction=True)
def test_two_handovers_racing_move_every_customer_exactly_once(
    org: dict[str, Any], make_customer: MakeCustomer
) -> None:
    rep_a = org["rep_a"]
    customers = [make_customer(rep_a, owner=rep_a, pool=org["east_pool"]) for _ in range(30)]
    targets: list[Any] = [org["rep_b"].pk, "pools"]
    barrier = threading.Barrier(2)
    crashes: list[BaseException] = []

    def run(to: Any) -> None:
        try:
            barrier.wait(timeout=30)
            handover(as_viewer(org["admin"]), rep_a.pk, to=to, dry_run=False, batch_size=4)
        except BaseException as crash:  # shown by the assertion below
            crashes.append(crash)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(to,)) for to in targets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert crashes == []
    assert ledger("transferred") + ledger("released") == Counter(c.pk for c in customers)
    assert owned_by(rep_a) == 0
    assert_clean()
