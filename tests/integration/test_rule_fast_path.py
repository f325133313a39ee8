"""An assignment run applied one by one (its small path) takes the rule's fast path
(``assign_statements.assign_by_rule``) for the plain case: the same row, ledger row, schedule and
notification as ``assign_many`` writes, in a few statements; anything unusual writes nothing
there and goes to ``assign_many``, which decides as before. Under real threads on the real
database (SQLite file and PostgreSQL), runs and claims at once give each customer one owner,
keep every cap and send each notification once."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import pytest
from django.db import DatabaseError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from highseas.accounts.models import RepProfile, Role, User
from highseas.customers.choices import CustomerStage
from highseas.customers.models import Customer
from highseas.engine.ownership import EventKind
from highseas.notify.models import Notification
from highseas.pools import assign_statements, facts, ownership, reasons
from highseas.pools.authority import RuleAuthority
from highseas.pools.invariants import run_checks
from highseas.pools.models import ClaimPolicy, OwnershipEvent, RecyclePolicy
from highseas.pools.reasons import Reason
from highseas.routing import apply, runs
from highseas.routing.models import AssignmentRule
from highseas.routing.runs import ApplyMode
from highseas.routing.services import run_assignment
from tests.races import race

pytestmark = pytest.mark.django_db(transaction=True)

MakeCustomer = Callable[..., Customer]


def assert_invariants() -> None:
    report = run_checks()
    assert report.ok, (report.problems, report.examples)


def pooled(org: dict[str, Any], make_customer: MakeCustomer, count: int) -> list[Customer]:
    """Pooled customers made before any rule exists (so nothing routes them on create)."""
    return [make_customer(org["admin"], pool=org["east_pool"]) for _ in range(count)]


def rule(target: dict[str, Any], name: str = "全部") -> AssignmentRule:
    return AssignmentRule.objects.create(name=name, position=0, target=target, conditions={})


def run_one_by_one(org: dict[str, Any], customers: list[Customer], seed: int = 1) -> Any:
    return run_assignment(
        org["admin"],
        dry_run=False,
        seed=seed,
        customer_ids=[c.pk for c in customers],
        apply_mode=ApplyMode.SERVICE,
    )


@pytest.fixture
def idle_policy(org: dict[str, Any]) -> None:
    RecyclePolicy.objects.update_or_create(
        pool=org["east_pool"], defaults={"idle_days": 10, "warn_days": 2, "no_deal_days": None}
    )


@pytest.fixture
def full_path_calls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The customers ``assign_many`` was asked for (the full path), as the run calls it."""
    calls: list[int] = []
    real = apply.assign_many

    def counted(grants: Any, **kwargs: Any) -> Any:
        calls.extend(g.customer_id for g in grants)
        return real(grants, **kwargs)

    monkeypatch.setattr(apply, "assign_many", counted)
    return calls


def test_the_plain_case_takes_the_fast_path_and_writes_what_the_full_path_writes(
    org: dict[str, Any], make_customer: MakeCustomer, idle_policy: None, full_path_calls: list[int]
) -> None:
    fast, full = pooled(org, make_customer, 2)
    made = rule({"user": org["rep_a"].pk})
    by_fast = run_one_by_one(org, [fast])
    assert full_path_calls == []  # the plain case never reached assign_many
    assert [d.owner_id for d in by_fast.assigned] == [org["rep_a"].pk]
    with transaction.atomic():  # the same decision through the full path, for comparison
        by_full = run_assignment(
            org["admin"],
            dry_run=False,
            seed=1,
            customer_ids=[full.pk],
            apply_mode=ApplyMode.BULK,
        )
    assert full_path_calls == [full.pk]
    assert [d.owner_id for d in by_full.assigned] == [org["rep_a"].pk]
    columns = ("status", "owner_id", "recycle_due_at", "warn_at", "frozen_until")
    rows = {c.pk: Customer.objects.values_list(*columns).get(pk=c.pk) for c in (fast, full)}
    assert rows[fast.pk][:2] == ("owned", org["rep_a"].pk)
    assert rows[fast.pk][2] is not None and rows[fast.pk][3] is not None
    fields = (
        *("kind", "from_status", "from_owner_id", "from_pool_id", "to_status", "to_owner_id"),
        *("to_pool_id", "actor_id", "actor_label", "reason_code", "policy_ref"),
    )
    ledger = {
        c.pk: OwnershipEvent.objects.filter(customer=c, kind="assigned").values_list(*fields).get()
        for c in (fast, full)
    }
    assert ledger[fast.pk] == ledger[full.pk]
    assert ledger[fast.pk][7:10] == (None, f"system:rule:{made.pk}", reasons.RULE_ASSIGNED)
    params = OwnershipEvent.objects.get(customer=fast, kind="assigned").reason_params
    assert params == {"rule": "全部", "run": by_fast.run.pk}
    told = Notification.objects.filter(kind=EventKind.ASSIGNED.value, recipient=org["rep_a"])
    assert sorted(told.values_list("customer_id", flat=True)) == sorted([fast.pk, full.pk])
    titles = set(told.values_list("title_template", "title"))
    assert len(titles) == 1  # the same words either way
    assert_invariants()


def _grant(org: dict[str, Any], customer: Customer, rep: User, **kwargs: Any) -> Any:
    authority = RuleAuthority(
        kwargs.pop("rule_id", 1),
        "规则",
        kwargs.pop("pool_id", org["east_pool"].pk),
        frozenset(kwargs.pop("reach", [rep.pk])),
    )
    with transaction.atomic():
        return assign_statements.assign_by_rule(
            authority,
            customer.pk,
            rep,
            reason=Reason(reasons.RULE_ASSIGNED, {"rule": "规则", "run": 0}),
            daily_quota=kwargs.pop("daily_quota", None),
            now=timezone.now(),
        )


UNUSUAL: dict[str, Callable[[dict[str, Any], Customer, User], dict[str, Any]]] = {
    "already owned": lambda org, c, rep: ownership.claim(org["rep_b"], c.pk) and {},
    "merged away": lambda org, c, rep: (
        Customer.objects.filter(pk=c.pk).update(
            merged_into=Customer.objects.exclude(pk=c.pk).first()
        )
        and {}
    ),
    "another pool's rule": lambda org, c, rep: {"pool_id": org["south_pool"].pk},
    "a rep the rule does not reach": lambda org, c, rep: {"reach": [org["rep_b"].pk]},
    "a deactivated user": lambda org, c, rep: (
        User.objects.filter(pk=rep.pk).update(is_active=False) and {}
    ),
    "an inactive rep profile": lambda org, c, rep: (
        RepProfile.objects.filter(user=rep).update(is_active=False) and {}
    ),
    "on leave today": lambda org, c, rep: (
        RepProfile.objects.filter(user=rep).update(
            leave_from=date.today() - timedelta(days=1),
            leave_until=date.today() + timedelta(days=1),
        )
        and {}
    ),
    "at the pool's holding cap": lambda org, c, rep: (
        ClaimPolicy.objects.filter(pool=org["east_pool"]).update(holding_cap=1) and {}
    ),
    "at the rep's holding cap": lambda org, c, rep: (
        RepProfile.objects.filter(user=rep).update(holding_cap_override=1) and {}
    ),
    "at the pool's daily quota": lambda org, c, rep: (
        ClaimPolicy.objects.filter(pool=org["east_pool"]).update(daily_quota=1) and {}
    ),
    "at the rep's daily quota": lambda org, c, rep: (
        RepProfile.objects.filter(user=rep).update(daily_quota_override=1) and {}
    ),
    "at the rule's quota": lambda org, c, rep: {"daily_quota": 1},
}


@pytest.mark.parametrize("case", list(UNUSUAL))
def test_anything_unusual_writes_nothing_on_the_fast_path(
    org: dict[str, Any], make_customer: MakeCustomer, case: str
) -> None:
    """Each case the fast path stands aside for (the full path decides it, and refuses
    each of these but the foreign claim with its own code): nothing written, nobody told.
    ``rep_a`` already holds one customer given today, so caps and quotas of 1 are reached."""
    rep = org["rep_a"]
    given, customer = pooled(org, make_customer, 2)
    ownership.assign(org["east_manager"], given.pk, rep)
    RepProfile.objects.get_or_create(user=rep)
    arguments = UNUSUAL[case](org, customer, rep)
    before = (OwnershipEvent.objects.count(), Notification.objects.count())
    assert _grant(org, customer, User.objects.get(pk=rep.pk), **arguments) is None
    assert (OwnershipEvent.objects.count(), Notification.objects.count()) == before
    assert Customer.objects.get(pk=customer.pk).owner_id != rep.pk


def test_the_same_customer_with_nothing_unusual_is_given(
    org: dict[str, Any], make_customer: MakeCustomer
) -> None:
    """The control of the cases above: the same set-up, nothing changed, is given."""
    rep = org["rep_a"]
    given, customer = pooled(org, make_customer, 2)
    ownership.assign(org["east_manager"], given.pk, rep)
    RepProfile.objects.get_or_create(user=rep)
    receiver = User.objects.get(pk=rep.pk)
    with CaptureQueriesContext(connection) as captured:
        moved = _grant(org, customer, receiver)
    assert moved is not None and moved.owner_id == rep.pk
    skipped = ("SAVEPOINT", "RELEASE", "BEGIN", "COMMIT", "ROLLBACK")
    sql = [q["sql"] for q in captured.captured_queries if not q["sql"].startswith(skipped)]
    # PostgreSQL: lock the receiver, the facts, the compare-and-set with its ledger row;
    # SQLite (whose write transaction serializes writers): the facts, the compare-and-set, the
    # ledger row
    assert len(sql) == 3, sql
    assert Customer.objects.get(pk=customer.pk).owner_id == rep.pk


def test_runs_and_claims_at_once_give_each_customer_one_owner_under_the_caps(
    org: dict[str, Any], make_user: Callable[..., User], make_customer: MakeCustomer
) -> None:
    """Three one-by-one runs over the same thirty customers while each of the three reps
    claims them on two threads, all at once: one owner and one ownership row per customer,
    no rep past the cap of 3 (a run's grant and a rep's own claim both count under the rep's
    lock), each given customer told to its receiver exactly once."""
    ClaimPolicy.objects.filter(pool=org["east_pool"]).update(holding_cap=3)
    reps = [org["rep_a"], org["rep_b"], make_user(Role.REP, "rep_d", team=org["east"])]
    customers = pooled(org, make_customer, 30)
    rule({"team": org["east"].pk, "strategy": "round_robin"})

    def act(index: int) -> None:
        if index < 3:
            run_one_by_one(org, customers[index * 3 :], seed=index)
            return
        for customer in customers[index % 3 :: 3]:
            try:
                ownership.claim(reps[index % 3], customer.pk)
            except Exception as refused:  # someone was first, or the cap: a typed refusal
                assert getattr(refused, "code", None) is not None, refused

    tally = race(9, act)
    assert tally == Counter({"ok": 9})
    held = Counter(
        Customer.objects.filter(pk__in=[c.pk for c in customers], owner__isnull=False).values_list(
            "owner_id", flat=True
        )
    )
    assert set(held) <= {r.pk for r in reps}
    assert all(count <= 3 for count in held.values()), held
    assert sum(held.values()) == 9  # every rep reached the cap: 12 customers were enough
    moves = OwnershipEvent.objects.filter(kind__in=["assigned", "claimed"])
    assert Counter(moves.values_list("customer_id", flat=True)) == Counter(
        Customer.objects.filter(owner__isnull=False).values_list("pk", flat=True)
    )
    assigned = moves.filter(kind="assigned")
    told = Notification.objects.filter(kind=EventKind.ASSIGNED.value)
    assert sorted(told.values_list("customer_id", "recipient_id")) == sorted(
        assigned.values_list("customer_id", "to_owner_id")
    )
    assert_invariants()


def test_a_rep_s_claim_during_a_run_s_grant_waits_for_it_and_the_cap_holds(
    org: dict[str, Any], make_customer: MakeCustomer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The run's fast path has read the receiver's holdings (2 of a cap of 3) under their
    lock when the receiver claims another customer: the claim waits for the grant's commit,
    then finds the cap reached. Without the receiver's lock both would land (4 of 3)."""
    ClaimPolicy.objects.filter(pool=org["east_pool"]).update(holding_cap=3)
    rep = org["rep_a"]
    held, (granted, claimed) = pooled(org, make_customer, 2), pooled(org, make_customer, 2)
    for customer in held:
        ownership.assign(org["east_manager"], customer.pk, rep)
    rule({"user": rep.pk})
    has_read = threading.Event()
    real = assign_statements._read_for_rule

    def slow_read(*args: Any, **kwargs: Any) -> Any:
        found = real(*args, **kwargs)
        has_read.set()
        time.sleep(0.5)  # the claim starts here, and must wait
        return found

    monkeypatch.setattr(assign_statements, "_read_for_rule", slow_read)

    def act(index: int) -> None:
        if index == 0:
            run_one_by_one(org, [granted])
        else:
            assert has_read.wait(30)
            ownership.claim(rep, claimed.pk)

    tally = race(2, act)
    assert tally == Counter({"ok": 1, "holding_cap_reached": 1})
    assert Customer.objects.get(pk=granted.pk).owner_id == rep.pk
    assert Customer.objects.get(pk=claimed.pk).owner_id is None
    assert Customer.objects.filter(owner=rep).count() == 3
    assert_invariants()


def _statements(run: Callable[[], Any]) -> list[str]:
    skipped = ("SAVEPOINT", "RELEASE", "BEGIN", "COMMIT", "ROLLBACK")
    with CaptureQueriesContext(connection) as captured:
        run()
    return [q["sql"] for q in captured.captured_queries if not q["sql"].startswith(skipped)]


def test_a_run_that_locked_every_rep_does_not_ask_for_a_receiver_s_lock_again(
    org: dict[str, Any], make_customer: MakeCustomer
) -> None:
    """A one-by-one run of several customers locks every rep its rules reach first, in id
    order; each plain grant then reads and writes under that lock: two statements a customer
    on PostgreSQL (the facts; the compare-and-set with its ledger row), three on SQLite (the
    ledger row apart). The per-receiver lock is never sent, and each customer is given."""
    for rep in (org["rep_a"], org["rep_b"]):
        RepProfile.objects.get_or_create(user=rep)
    customers = pooled(org, make_customer, 8)
    rule({"team": org["east"].pk, "strategy": "round_robin"})
    run_one_by_one(org, customers[:2])  # the first run makes the rule's pointer
    few = _statements(lambda: run_one_by_one(org, customers[2:4]))
    more = _statements(lambda: run_one_by_one(org, customers[4:]))
    per_customer = 2 if connection.vendor == "postgresql" else 3
    assert len(more) - len(few) == 2 * per_customer, more
    lock = assign_statements.claim_statements.lock_sql(connection.vendor)
    assert lock not in more
    owners = Customer.objects.filter(pk__in=[c.pk for c in customers]).values_list(
        "owner_id", flat=True
    )
    assert set(owners) == {org["rep_a"].pk, org["rep_b"].pk}
    assert OwnershipEvent.objects.filter(kind="assigned").count() == 8
    assert_invariants()


def test_a_receiver_without_a_profile_gets_one_locked_with_the_others_before_any_grant(
    org: dict[str, Any], make_customer: MakeCustomer
) -> None:
    """A rep with no profile when the run locks the reps its rules reach gets one then, and
    its lock is held with the others' before any customer is written: were it locked only at
    its grant (after the batch's earlier customers), a run that found the profile made
    meanwhile would hold it and wait for one of those customers — the cycle two runs met on
    PostgreSQL. Another transaction cannot take the new row's lock until the batch ends. On
    SQLite the write transaction excludes every other writer; nothing is locked or made."""
    RepProfile.objects.filter(user=org["rep_a"]).delete()
    RepProfile.objects.get_or_create(user=org["rep_b"])
    customers = pooled(org, make_customer, 2)
    rule({"user": org["rep_a"].pk})
    row_locks = connection.features.has_select_for_update
    elsewhere: list[str] = []  # what another writer's lock on the rep finds: taken or free

    def try_the_lock() -> None:
        """As every writer of a rep does (``lock_reps``), waiting at most 300 ms."""
        try:
            with transaction.atomic():
                with connection.cursor() as cursor:
                    cursor.execute("SET LOCAL lock_timeout = '300ms'")
                facts.lock_reps(org["rep_a"].pk)
                elsewhere.append("free")
        except DatabaseError:
            elsewhere.append("taken")
        finally:
            connection.close()

    with transaction.atomic():
        held = runs.lock_rep_rows(sorted([org["rep_b"].pk, org["rep_a"].pk]))
        if row_locks:
            other = threading.Thread(target=try_the_lock)
            other.start()
            other.join()
            assert elsewhere == ["taken"]
    assert held == ({org["rep_a"].pk, org["rep_b"].pk} if row_locks else set())
    assert RepProfile.objects.filter(user=org["rep_a"]).exists() == row_locks
    result = run_one_by_one(org, customers)
    assert [d.owner_id for d in result.assigned] == [org["rep_a"].pk] * 2
    assert RepProfile.objects.filter(user=org["rep_a"]).exists()
    assert_invariants()


def test_locking_reps_skips_an_id_that_is_no_user(org: dict[str, Any]) -> None:
    """An id with no user behind it (deleted meanwhile) gets no profile and no lock; the
    others are locked as asked (``lock_rep_rows`` and ``lock_reps``)."""
    gone = User.objects.order_by("-pk").values_list("pk", flat=True).first() + 1000
    with transaction.atomic():
        held = runs.lock_rep_rows([gone, org["rep_b"].pk])
    expected = {org["rep_b"].pk} if connection.features.has_select_for_update else set()
    assert held == expected
    assert not RepProfile.objects.filter(user_id=gone).exists()
    with transaction.atomic():
        profiles = facts.lock_reps(gone, org["rep_b"].pk)  # once created it, then looped
    assert set(profiles) == {org["rep_b"].pk}
    assert not RepProfile.objects.filter(user_id=gone).exists()


def _grants_with_tallies(
    org: dict[str, Any],
    customers: list[Customer],
    rep: User,
    before: dict[int, Callable[[], Any]] | None = None,
    **kwargs: Any,
) -> tuple[list[bool], list[str]]:
    """``assign_by_rule`` for each customer in turn, in one transaction, with one
    ``Tallies`` as a run that locked every rep keeps them (``before[i]`` runs in it before
    the ``i``-th; ``lock=False``: without taking the rep's lock first): which were given,
    and the statements sent."""
    authority = RuleAuthority(1, "规则", org["east_pool"].pk, frozenset([rep.pk]))
    tallies = assign_statements.Tallies()
    given: list[bool] = []

    def grant_all() -> None:
        with transaction.atomic():
            locked = runs.lock_rep_rows([rep.pk]) if kwargs.get("lock", True) else frozenset()
            for index, customer in enumerate(customers):
                if before and index in before:
                    before[index]()
                moved = assign_statements.assign_by_rule(
                    authority,
                    customer.pk,
                    rep,
                    reason=Reason(reasons.RULE_ASSIGNED, {"rule": "规则", "run": 0}),
                    daily_quota=kwargs.get("daily_quota"),
                    now=timezone.now(),
                    receiver_locked=rep.pk in locked,
                    tallies=tallies,
                )
                given.append(moved is not None)

    return given, _statements(grant_all)


def _counting(statements: list[str]) -> int:
    """The facts reads that counted the receiver's holdings (the ``held_open`` count)."""
    return sum(1 for sql in statements if "held_open" in sql)


@pytest.mark.parametrize("limit", ["holding cap", "holding cap, won counted", "rule's quota"])
def test_kept_counts_are_read_once_and_count_each_grant_so_the_limit_holds(
    org: dict[str, Any], make_customer: MakeCustomer, limit: str
) -> None:
    """With the receiver's counts kept (``Tallies``), its first grant counts them in the
    database and each grant adds to them; a grant they refuse counts again before it is
    refused: ``rep_a`` holds one customer given today, and the limit is 3, so two are given
    on the kept counts and the two past the limit each count again."""
    rep = org["rep_a"]
    RepProfile.objects.get_or_create(user=rep)
    held, *customers = pooled(org, make_customer, 5)
    ownership.assign(org["east_manager"], held.pk, rep)
    quota = None
    if limit == "rule's quota":
        quota = 3
    else:
        ClaimPolicy.objects.filter(pool=org["east_pool"]).update(
            holding_cap=3, count_won_in_cap=limit.endswith("won counted")
        )

    given, statements = _grants_with_tallies(
        org, customers, User.objects.get(pk=rep.pk), daily_quota=quota
    )

    assert given == [True, True, False, False]
    assert _counting(statements) == 3, statements
    assert Customer.objects.filter(owner=rep).count() == 3
    assert_invariants()


def test_counts_are_kept_only_while_the_receiver_s_lock_is_held(
    org: dict[str, Any], make_customer: MakeCustomer
) -> None:
    """Handed ``Tallies`` by a caller that does not hold the receiver's lock, each grant
    takes the lock and counts in the database (another writer may add to the counts between
    two grants); on SQLite the write transaction holds every writer off, so the counts are
    kept as with the lock."""
    rep = org["rep_a"]
    RepProfile.objects.get_or_create(user=rep)
    customers = pooled(org, make_customer, 3)

    given, statements = _grants_with_tallies(org, customers, rep, lock=False)

    assert given == [True, True, True]
    row_locks = connection.features.has_select_for_update
    assert _counting(statements) == (3 if row_locks else 1), statements
    lock = assign_statements.claim_statements.lock_sql(connection.vendor)
    locking = lock.split("%s")[0]  # the statement as captured, its parameter filled in
    assert sum(1 for sql in statements if sql.startswith(locking)) == (3 if row_locks else 0)
    assert_invariants()


def test_kept_counts_made_high_by_a_release_are_counted_again_before_a_refusal(
    org: dict[str, Any], make_customer: MakeCustomer
) -> None:
    """A release does not take the rep's lock, so it leaves the kept counts high: at the cap
    by them, the grant counts again and finds room (what the database says decides)."""
    rep = org["rep_a"]
    RepProfile.objects.get_or_create(user=rep)
    ClaimPolicy.objects.filter(pool=org["east_pool"]).update(holding_cap=3)
    held, *customers = pooled(org, make_customer, 4)
    ownership.assign(org["east_manager"], held.pk, rep)
    receiver = User.objects.get(pk=rep.pk)

    def release() -> None:
        ownership.release(rep, held.pk, reason="不再跟进")

    given, statements = _grants_with_tallies(org, customers, receiver, before={2: release})

    assert given == [True, True, True]
    assert _counting(statements) == 2, statements  # the first grant, and the one at the cap
    assert Customer.objects.filter(owner=rep).count() == 3
    assert_invariants()


def test_kept_counts_leave_a_won_customer_out_of_the_open_holdings(
    org: dict[str, Any], make_customer: MakeCustomer
) -> None:
    """Won customers do not count toward the cap unless the pool says so: a won customer's
    grant adds to the receiver's holdings but not to its open ones, so two open customers
    still fit under a cap of 2 after it."""
    rep = org["rep_a"]
    RepProfile.objects.get_or_create(user=rep)
    ClaimPolicy.objects.filter(pool=org["east_pool"]).update(holding_cap=2, count_won_in_cap=False)
    won, *open_ones = pooled(org, make_customer, 4)
    Customer.objects.filter(pk=won.pk).update(stage=CustomerStage.WON)

    given, statements = _grants_with_tallies(org, [won, *open_ones], User.objects.get(pk=rep.pk))

    assert given == [True, True, True, False]
    # the first grant's count, and the one at the cap: the kept open holdings were right
    assert _counting(statements) == 2, statements
    assert_invariants()


def test_a_one_by_one_run_counts_each_receiver_once_a_batch(
    org: dict[str, Any], make_customer: MakeCustomer, full_path_calls: list[int]
) -> None:
    """A run applied one by one over several customers holds every rep's lock for its batch,
    so it counts each receiver's holdings once, with that receiver's first grant, and keeps
    them; round robin over two reps, eight customers: two counting reads."""
    for rep in (org["rep_a"], org["rep_b"]):
        RepProfile.objects.get_or_create(user=rep)
    customers = pooled(org, make_customer, 8)
    rule({"team": org["east"].pk, "strategy": "round_robin"})

    statements = _statements(lambda: run_one_by_one(org, customers))

    assert full_path_calls == []
    assert _counting(statements) == 2, statements
    owners = Counter(
        Customer.objects.filter(pk__in=[c.pk for c in customers]).values_list("owner_id", flat=True)
    )
    assert owners == Counter({org["rep_a"].pk: 4, org["rep_b"].pk: 4})
    assert_invariants()
