"""Ownership services: each move is one compare-and-set with its ledger row; refusals leave
no trace."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.db import transaction
from django.utils import timezone

from highseas.accounts.models import AuditLog, RepProfile
from highseas.customers.models import Customer
from highseas.engine.errors import ErrorCode, HighSeasError
from highseas.notify.models import Notification
from highseas.pools import ownership, requests
from highseas.pools.invariants import run_checks
from highseas.pools.models import (
    ClaimPolicy,
    ClaimRequest,
    OwnershipEvent,
    Pool,
    RecyclePolicy,
)

pytestmark = pytest.mark.django_db

NOW = timezone.now().replace(microsecond=0)


@pytest.fixture
def east(org: dict[str, Any]) -> dict[str, Any]:
    ClaimPolicy.objects.filter(pool=org["east_pool"]).update(
        daily_quota=2,
        weekly_quota=3,
        holding_cap=3,
        reclaim_cooldown_days=7,
        max_frozen=1,
        max_freeze_days=30,
    )
    RecyclePolicy.objects.filter(pool=org["east_pool"]).update(idle_days=7, warn_days=3)
    org["east_pool"].refresh_from_db()
    return org


@pytest.fixture
def pooled(east: dict[str, Any], make_customer: Callable[..., Customer]) -> Callable[[], Customer]:
    return lambda: make_customer(east["admin"], pool=east["east_pool"])


class _RolledBack(Exception):
    pass


@pytest.mark.parametrize("path", ["fast", "full"])
def test_the_receiver_is_told_in_the_assignment_s_own_transaction(
    east: dict[str, Any],
    pooled: Callable[[], Customer],
    make_customer: Callable[..., Customer],
    django_capture_on_commit_callbacks: Any,
    path: str,
) -> None:
    """One transaction: the notification is written with the move (nothing waits for the
    commit), and an assignment rolled back takes its notification with it."""
    manager, rep = east["east_manager"], east["rep_b"]
    override = path == "full"  # over the cap with the override: the full path (``_give``)
    if override:
        for _ in range(3):
            make_customer(rep, owner=rep, pool=east["east_pool"])
    kept, undone = pooled(), pooled()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        ownership.assign(manager, kept.pk, rep, override_cap=override)
    assert callbacks == []
    told = Notification.objects.filter(recipient=rep, customer=kept, kind="assigned")
    assert told.count() == 1
    before = Notification.objects.count()
    with pytest.raises(_RolledBack), transaction.atomic():
        ownership.assign(manager, undone.pk, rep, override_cap=override)
        assert Notification.objects.filter(recipient=rep, customer=undone).count() == 1
        raise _RolledBack
    assert Notification.objects.count() == before
    assert Customer.objects.get(pk=undone.pk).owner_id is None
    assert not OwnershipEvent.objects.filter(customer=undone, kind="assigned").exists()


def snapshot() -> tuple[Any, ...]:
    """Everything a refused action must leave untouched."""
    return (
        list(
            Customer.objects.order_by("id").values_list(
                "id",
                "status",
                "owner_id",
                "pool_id",
                "owned_since",
                "recycle_due_at",
                "frozen_until",
            )
        ),
        OwnershipEvent.objects.count(),
        ClaimRequest.objects.count(),
        AuditLog.objects.count(),
    )


def refused(code: ErrorCode, action: Callable[[], Any]) -> HighSeasError:
    before = snapshot()
    with pytest.raises(HighSeasError) as caught:
        action()
    assert caught.value.code is code, caught.value.as_dict()
    assert snapshot() == before
    return caught.value


def test_a_claim_makes_the_rep_owner_with_a_ledger_row_and_a_schedule(
    east: dict[str, Any], pooled: Callable[[], Customer]
) -> None:
    customer = pooled()
    ownership.claim(east["rep_a"], customer.pk, now=NOW)
    customer.refresh_from_db()
    assert (customer.status, customer.owner, customer.owned_since) == ("owned", east["rep_a"], NOW)
    assert customer.recycle_due_at == NOW + timedelta(days=7)
    assert customer.warn_at == NOW + timedelta(days=4)
    event = OwnershipEvent.objects.filter(customer=customer).latest("id")
    assert (event.kind, event.from_status, event.to_status, event.to_owner, event.actor) == (
        "claimed",
        "pooled",
        "owned",
        east["rep_a"],
        east["rep_a"],
    )
    assert run_checks().ok


def test_claiming_an_owned_customer_names_the_holder(
    east: dict[str, Any], pooled: Callable[[], Customer]
) -> None:
    customer = pooled()
    ownership.claim(east["rep_a"], customer.pk, now=NOW)
    error = refused(
        ErrorCode.ALREADY_OWNED, lambda: ownership.claim(east["rep_b"], customer.pk, now=NOW)
    )
    assert error.facts["holder"] == "REP_A"


def test_a_non_member_cannot_claim(east: dict[str, Any], pooled: Callable[[], Customer]) -> None:
    customer = pooled()
    refused(ErrorCode.NOT_POOL_MEMBER, lambda: ownership.claim(east["rep_c"], customer.pk))


def test_the_daily_quota_holds_and_reports_its_facts(
    east: dict[str, Any], pooled: Callable[[], Customer]
) -> None:
    first, second, third = pooled(), pooled(), pooled()
    ownership.claim(east["rep_a"], first.pk, now=NOW)
    ownership.claim(east["rep_a"], second.pk, now=NOW)
    error = refused(
        ErrorCode.CLAIM_QUOTA_EXCEEDED, lambda: ownership.claim(east["rep_a"], third.pk, now=NOW)
    )
    assert error.facts == {"period": "day", "used": 2, "limit": 2}


@pytest.mark.parametrize("local_hour", [0, 7, 12, 23])
def test_the_daily_quota_holds_at_every_hour_of_the_org_day(
    east: dict[str, Any], pooled: Callable[[], Customer], local_hour: int
) -> None:
    """Between 00:00 and 08:00 in Shanghai the UTC date is the day before: the day's start
    must be compared as the database stores times, or the claims of the day go uncounted."""
    moment = timezone.localtime(NOW).replace(hour=local_hour, minute=30)
    first, second, third = pooled(), pooled(), pooled()
    ownership.claim(east["rep_a"], first.pk, now=moment)
    ownership.claim(east["rep_a"], second.pk, now=moment)
    error = refused(
        ErrorCode.CLAIM_QUOTA_EXCEEDED, lambda: ownership.claim(east["rep_a"], third.pk, now=moment)
    )
    assert error.facts == {"period": "day", "used": 2, "limit": 2}


def test_the_quota_resets_the_next_day_but_the_week_still_counts(
    east: dict[str, Any], pooled: Callable[[], Customer]
) -> None:
    monday = timezone.localtime(NOW).replace(hour=10) - timedelta(
        days=timezone.localtime(NOW).weekday()
    )
    customers = [pooled() for _ in range(4)]
    for customer in customers[:2]:
        ownership.claim(east["rep_a"], customer.pk, now=monday)
    ownership.release(east["rep_a"], customers[0].pk, reason="换人跟进", now=monday)
    ownership.claim(east["rep_a"], customers[2].pk, now=monday + timedelta(days=1))
    error = refused(
        ErrorCode.CLAIM_QUOTA_EXCEEDED,
        lambda: ownership.claim(
            east["rep_a"], customers[3].pk, now=monday + timedelta(days=1, hours=1)
        ),
    )
    assert error.facts["period"] == "week"


def test_the_holding_cap_holds(
    east: dict[str, Any], pooled: Callable[[], Customer], make_customer: Callable[..., Customer]
) -> None:
    for _ in range(3):
        make_customer(east["rep_a"], owner=east["rep_a"], pool=east["east_pool"])
    customer = pooled()
    error = refused(
        ErrorCode.HOLDING_CAP_REACHED, lambda: ownership.claim(east["rep_a"], customer.pk, now=NOW)
    )
    assert error.facts == {"holdings": 3, "limit": 3}


def test_a_personal_override_tightens_the_cap(
    east: dict[str, Any], pooled: Callable[[], Customer]
) -> None:
    RepProfile.objects.filter(user=east["rep_a"]).update(holding_cap_override=1)
    first, second = pooled(), pooled()
    ownership.claim(east["rep_a"], first.pk, now=NOW)
    refused(
        ErrorCode.HOLDING_CAP_REACHED, lambda: ownership.claim(east["rep_a"], second.pk, now=NOW)
    )


def test_the_cooldown_blocks_a_reclaim_until_its_last_second(
    east: dict[str, Any], pooled: Callable[[], Customer]
) -> None:
    customer = pooled()
    ownership.claim(east["rep_a"], customer.pk, now=NOW)
    ownership.release(east["rep_a"], customer.pk, reason="客户暂无需求", now=NOW)
    ends = NOW + timedelta(days=7)
    error = refused(
        ErrorCode.RECLAIM_COOLDOWN,
        lambda: ownership.claim(east["rep_a"], customer.pk, now=ends - timedelta(seconds=1)),
    )
    assert error.facts["cooldown_ends_at"] == ends.isoformat()
    ownership.claim(east["rep_b"], customer.pk, now=NOW)  # others may claim at once
    ownership.release(east["rep_b"], customer.pk, reason="转交", now=NOW)
    ownership.claim(east["rep_a"], customer.pk, now=ends)


def test_a_release_needs_a_reason_and_returns_to_the_pool(
    east: dict[str, Any], pooled: Callable[[], Customer]
) -> None:
    customer = pooled()
    ownership.claim(east["rep_a"], customer.pk, now=NOW)
    refused(
        ErrorCode.VALIDATION_ERROR,
        lambda: ownership.release(east["rep_a"], customer.pk, reason="  "),
    )
    ownership.release(east["rep_a"], customer.pk, reason="客户已有供应商", now=NOW)
    customer.refresh_from_db()
    assert (customer.status, customer.owner, customer.previous_owner, customer.recycle_due_at) == (
        "pooled",
        None,
        east["rep_a"],
        None,
    )
    assert OwnershipEvent.objects.filter(customer=customer).latest("id").reason == "客户已有供应商"


def test_only_the_owner_or_their_manager_releases(
    east: dict[str, Any], pooled: Callable[[], Customer]
) -> None:
    customer = pooled()
    ownership.claim(east["rep_a"], customer.pk, now=NOW)
    refused(
        ErrorCode.NOT_OWNER, lambda: ownership.release(east["rep_b"], customer.pk, reason="抢走")
    )
    refused(
        ErrorCode.NOT_OWNER,
        lambda: ownership.release(east["south_manager"], customer.pk, reason="越权"),
    )
    ownership.release(east["east_manager"], customer.pk, reason="经理收回")


def test_a_manager_assigns_within_the_team_only(
    east: dict[str, Any], pooled: Callable[[], Customer], django_capture_on_commit_callbacks: Any
) -> None:
    customer = pooled()
    refused(
        ErrorCode.PERMISSION_DENIED,
        lambda: ownership.assign(east["east_manager"], customer.pk, east["rep_c"]),
    )
    refused(
        ErrorCode.PERMISSION_DENIED,
        lambda: ownership.assign(east["rep_a"], customer.pk, east["rep_b"]),
    )
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        ownership.assign(east["east_manager"], customer.pk, east["rep_b"], reason="大客户指派")
    assert callbacks == []  # told in the assignment's transaction
    customer.refresh_from_db()
    assert customer.owner == east["rep_b"]
    assert Notification.objects.filter(recipient=east["rep_b"], customer=customer).exists()


def test_assigning_over_the_cap_needs_an_explicit_logged_override(
    east: dict[str, Any], pooled: Callable[[], Customer], make_customer: Callable[..., Customer]
) -> None:
    for _ in range(3):
        make_customer(east["rep_b"], owner=east["rep_b"], pool=east["east_pool"])
    customer = pooled()
    refused(
        ErrorCode.HOLDING_CAP_REACHED,
        lambda: ownership.assign(east["east_manager"], customer.pk, east["rep_b"]),
    )
    ownership.assign(east["east_manager"], customer.pk, east["rep_b"], override_cap=True)
    log = AuditLog.objects.get(action="cap_override")
    assert (log.actor, log.detail) == (
        east["east_manager"],
        {"receiver": east["rep_b"].pk, "holdings": 3, "limit": 3},
    )


def test_a_transfer_moves_an_owned_customer_and_tells_both(
    east: dict[str, Any], pooled: Callable[[], Customer], django_capture_on_commit_callbacks: Any
) -> None:
    customer, still_pooled = pooled(), pooled()
    ownership.claim(east["rep_a"], customer.pk, now=NOW)
    refused(
        ErrorCode.STATE_CONFLICT,
        lambda: ownership.transfer(east["east_manager"], still_pooled.pk, east["rep_b"]),
    )
    with django_capture_on_commit_callbacks(execute=True):
        ownership.transfer(east["east_manager"], customer.pk, east["rep_b"], reason="离职交接")
    customer.refresh_from_db()
    assert (customer.owner, customer.previous_owner) == (east["rep_b"], east["rep_a"])
    assert set(
        Notification.objects.filter(customer=customer).values_list("recipient__username", flat=True)
    ) == {"rep_a", "rep_b"}
    assert run_checks().ok


def test_freeze_protects_until_a_date_within_the_limits(
    east: dict[str, Any], pooled: Callable[[], Customer]
) -> None:
    first, second = pooled(), pooled()
    for customer in (first, second):
        ownership.assign(east["east_manager"], customer.pk, east["rep_a"], now=NOW)
    refused(
        ErrorCode.FREEZE_LIMIT_REACHED,
        lambda: ownership.freeze(
            east["rep_a"], first.pk, until=NOW + timedelta(days=31), reason="长期谈判", now=NOW
        ),
    )
    ownership.freeze(
        east["rep_a"], first.pk, until=NOW + timedelta(days=30), reason="谈判中", now=NOW
    )
    first.refresh_from_db()
    assert (first.status, first.frozen_until, first.recycle_due_at) == (
        "frozen",
        NOW + timedelta(days=30),
        None,
    )
    error = refused(
        ErrorCode.FREEZE_LIMIT_REACHED,
        lambda: ownership.freeze(
            east["rep_a"], second.pk, until=NOW + timedelta(days=3), reason="x", now=NOW
        ),
    )
    assert error.facts == {"frozen": 1, "limit": 1}
    refused(
        ErrorCode.FROZEN,
        lambda: ownership.freeze(
            east["rep_a"], first.pk, until=NOW + timedelta(days=3), reason="x", now=NOW
        ),
    )
    ownership.unfreeze(east["rep_a"], first.pk, now=NOW + timedelta(days=1))
    first.refresh_from_db()
    assert (first.status, first.frozen_until) == ("owned", None)
    assert first.recycle_due_at == NOW + timedelta(days=7)
    assert run_checks().ok


def test_a_rep_at_the_cap_registers_into_the_pool_and_is_told(
    east: dict[str, Any], make_customer: Callable[..., Customer]
) -> None:
    from highseas.intake.creation import create_customer

    for _ in range(3):
        make_customer(east["rep_a"], owner=east["rep_a"], pool=east["east_pool"])
    created = create_customer(
        actor=east["rep_a"], fields={"name": "第四家"}, owner=east["rep_a"], pool=east["east_pool"]
    )
    assert (created.customer.status, created.customer.owner) == ("pooled", None)
    assert "华东公海" in created.note
    assert created.facts == {"holdings": 3, "limit": 3}


class TestApproval:
    @pytest.fixture
    def approval_pool(self, east: dict[str, Any]) -> dict[str, Any]:
        ClaimPolicy.objects.filter(pool=east["east_pool"]).update(
            requires_approval=True, approval_expiry_hours=24
        )
        return east

    def test_a_claim_becomes_a_request_and_approval_claims(
        self, approval_pool: dict[str, Any], pooled: Callable[[], Customer]
    ) -> None:
        customer = pooled()
        outcome = ownership.claim(approval_pool["rep_a"], customer.pk, reason="老客户介绍", now=NOW)
        assert outcome.request is not None
        assert outcome.request.expires_at == NOW + timedelta(hours=24)
        customer.refresh_from_db()
        assert customer.status == "pooled"
        requests.approve(approval_pool["east_manager"], outcome.request.pk, now=NOW)
        customer.refresh_from_db()
        assert customer.owner == approval_pool["rep_a"]
        event = OwnershipEvent.objects.filter(customer=customer).latest("id")
        assert (event.kind, event.actor) == ("claimed", approval_pool["east_manager"])
        assert run_checks().ok

    def test_an_expired_request_cannot_be_approved(
        self, approval_pool: dict[str, Any], pooled: Callable[[], Customer]
    ) -> None:
        customer = pooled()
        outcome = ownership.claim(approval_pool["rep_a"], customer.pk, now=NOW)
        assert outcome.request is not None
        with pytest.raises(HighSeasError) as caught:
            requests.approve(
                approval_pool["east_manager"], outcome.request.pk, now=NOW + timedelta(hours=25)
            )
        assert caught.value.code is ErrorCode.STATE_CONFLICT
        customer.refresh_from_db()
        assert customer.status == "pooled"

    def test_a_rep_cannot_approve(
        self, approval_pool: dict[str, Any], pooled: Callable[[], Customer]
    ) -> None:
        request = ownership.claim(approval_pool["rep_a"], pooled().pk, now=NOW).request
        assert request is not None
        refused(
            ErrorCode.PERMISSION_DENIED,
            lambda: requests.approve(approval_pool["rep_b"], request.pk),
        )

    def test_expiry_is_set_based(
        self, approval_pool: dict[str, Any], pooled: Callable[[], Customer]
    ) -> None:
        for _ in range(3):
            ownership.claim(approval_pool["rep_a"], pooled().pk, now=NOW)
        assert requests.expire_requests(NOW + timedelta(hours=24)) == 3
        assert not ClaimRequest.objects.filter(state="pending").exists()


def test_every_ledger_row_has_an_actor_and_a_reason(
    east: dict[str, Any], pooled: Callable[[], Customer]
) -> None:
    customer = pooled()
    ownership.claim(east["rep_a"], customer.pk)
    ownership.release(east["rep_a"], customer.pk, reason="无效客户")
    ownership.assign(east["east_manager"], customer.pk, east["rep_b"])
    assert not OwnershipEvent.objects.filter(actor_label="").exists()
    assert not OwnershipEvent.objects.filter(reason="").exists()
    assert list(
        OwnershipEvent.objects.filter(customer=customer)
        .order_by("id")
        .values_list("kind", flat=True)
    ) == ["created", "claimed", "released", "assigned"]


class TestTransferOfAFrozenCustomer:
    @pytest.fixture
    def frozen(self, east: dict[str, Any], pooled: Callable[[], Customer]) -> Customer:
        customer = pooled()
        ownership.claim(east["rep_a"], customer.pk, now=NOW)
        ownership.freeze(
            east["rep_a"], customer.pk, until=NOW + timedelta(days=10), reason="谈判中", now=NOW
        )
        return customer

    def test_the_transfer_ends_the_freeze_with_an_unfrozen_row_first(
        self, east: dict[str, Any], frozen: Customer
    ) -> None:
        later = NOW + timedelta(days=1)
        outcome = ownership.transfer(
            east["east_manager"], frozen.pk, east["rep_b"], reason="离职交接", now=later
        )
        assert outcome.facts == {"unfrozen": True}
        rows = list(
            OwnershipEvent.objects.filter(customer=frozen)
            .order_by("id")
            .values_list("kind", "from_status", "to_status", "to_owner", "actor", "at")
        )
        manager, rep_a, rep_b = east["east_manager"].pk, east["rep_a"].pk, east["rep_b"].pk
        assert rows[-3:] == [
            ("frozen", "owned", "frozen", rep_a, rep_a, NOW),
            ("unfrozen", "frozen", "owned", rep_a, manager, later),
            ("transferred", "owned", "owned", rep_b, manager, later),
        ]
        frozen.refresh_from_db()
        assert (frozen.status, frozen.owner, frozen.frozen_until) == ("owned", east["rep_b"], None)
        assert frozen.recycle_due_at == later + timedelta(days=7)
        assert run_checks().ok

    def test_the_unfrozen_row_says_why(self, east: dict[str, Any], frozen: Customer) -> None:
        from django.utils import translation

        with translation.override("en"):
            ownership.transfer(east["east_manager"], frozen.pk, east["rep_b"], now=NOW)
        event = OwnershipEvent.objects.get(customer=frozen, kind="unfrozen")
        assert event.reason == "The freeze ended with the transfer to REP_B"

    def test_a_transfer_of_an_owned_customer_says_nothing_was_unfrozen(
        self, east: dict[str, Any], pooled: Callable[[], Customer]
    ) -> None:
        customer = pooled()
        ownership.claim(east["rep_a"], customer.pk, now=NOW)
        outcome = ownership.transfer(east["east_manager"], customer.pk, east["rep_b"], now=NOW)
        assert outcome.facts == {"unfrozen": False}
        assert not OwnershipEvent.objects.filter(customer=customer, kind="unfrozen").exists()

    def test_a_refused_transfer_keeps_the_freeze(
        self, east: dict[str, Any], frozen: Customer
    ) -> None:
        for actor in ("rep_a", "rep_b", "south_manager"):
            refused(
                ErrorCode.PERMISSION_DENIED,
                lambda actor=actor: ownership.transfer(east[actor], frozen.pk, east["rep_b"]),
            )
        refused(
            ErrorCode.PERMISSION_DENIED,
            lambda: ownership.transfer(east["east_manager"], frozen.pk, east["rep_c"]),
        )
        assert Customer.objects.get(pk=frozen.pk).status == "frozen"

    def test_the_api_answers_that_the_freeze_ended(
        self, east: dict[str, Any], frozen: Customer, api: Callable[..., Any]
    ) -> None:
        response = api(east["east_manager"]).post(
            f"/api/v1/customers/{frozen.pk}/transfer/", {"owner": east["rep_b"].pk}, format="json"
        )
        assert response.status_code == 200, response.content
        body = response.json()
        assert (body["status"], body["owner"], body["frozen_until"]) == (
            "owned",
            east["rep_b"].pk,
            None,
        )
        assert body["unfrozen"] is True and body["note"]


class TestReassignQueue:
    @pytest.fixture
    def queued(
        self, east: dict[str, Any], make_customer: Callable[..., Customer]
    ) -> Callable[[int], list[Customer]]:
        """Customers claimed by rep_a at NOW and recycled into the manager's queue a week
        later, in one sweep."""
        from highseas.pools.sweep import sweep

        RecyclePolicy.objects.filter(pool=east["east_pool"]).update(destination="reassign_queue")
        ClaimPolicy.objects.filter(pool=east["east_pool"]).update(
            daily_quota=None, weekly_quota=None, holding_cap=None
        )

        def make(count: int) -> list[Customer]:
            customers = [
                make_customer(east["admin"], pool=east["east_pool"], now=NOW) for _ in range(count)
            ]
            for customer in customers:
                ownership.claim(east["rep_a"], customer.pk, now=NOW)
            sweep(NOW + timedelta(days=7), batch_size=2)
            return customers

        return make

    def test_assigning_out_of_the_queue_puts_the_customer_under_its_origin_pool(
        self, east: dict[str, Any], queued: Callable[[int], list[Customer]]
    ) -> None:
        from highseas.pools.sweep import sweep

        customer = queued(1)[0]
        queue = Pool.objects.get(queue_of=east["east_pool"])
        assert Customer.objects.get(pk=customer.pk).pool_id == queue.pk
        later = NOW + timedelta(days=8)
        ownership.assign(east["east_manager"], customer.pk, east["rep_b"], now=later)
        event = OwnershipEvent.objects.filter(customer=customer).latest("id")
        assert (event.kind, event.from_pool_id, event.to_pool_id) == (
            "assigned",
            queue.pk,
            east["east_pool"].pk,
        )
        customer.refresh_from_db()
        assert (customer.pool_id, customer.recycle_due_at) == (
            east["east_pool"].pk,
            later + timedelta(days=7),
        )
        assert run_checks().ok
        sweep(later + timedelta(days=7))
        customer.refresh_from_db()
        assert (customer.status, customer.pool_id) == ("pooled", queue.pk)
        assert run_checks().ok

    def test_only_the_queues_managers_assign_out_of_it(
        self, east: dict[str, Any], queued: Callable[[int], list[Customer]]
    ) -> None:
        customer = queued(1)[0]
        for actor in ("rep_a", "rep_b", "south_manager"):
            refused(
                ErrorCode.PERMISSION_DENIED,
                lambda actor=actor: ownership.assign(east[actor], customer.pk, east["rep_b"]),
            )
        refused(ErrorCode.NOT_POOL_MEMBER, lambda: ownership.claim(east["rep_b"], customer.pk))

    def test_the_queues_managers_are_told_once_per_batch(
        self,
        east: dict[str, Any],
        queued: Callable[[int], list[Customer]],
        django_capture_on_commit_callbacks: Any,
    ) -> None:
        from django.utils import translation

        with translation.override("en"), django_capture_on_commit_callbacks(execute=True):
            first, second, third = queued(3)  # two batches of at most two
        told = list(
            Notification.objects.filter(kind="reassign_queue")
            .order_by("id")
            .values_list("recipient__username", "title", "body")
        )
        assert told == [
            ("mgr_east", "2 customers arrived in 华东公海·待分配", f"{first.name}、{second.name}"),
            ("mgr_east", "1 customers arrived in 华东公海·待分配", third.name),
        ]
        assert not Notification.objects.filter(kind="reassign_queue", recipient=east["rep_a"])
