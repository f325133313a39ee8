"""Claim requests in pools that ask for approval: the rep's reason, the manager's decision
named in the ledger, the pending request the rep sees, and its withdrawal."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone, translation
from rest_framework.test import APIClient

from highseas.accounts.models import User
from highseas.customers.models import Customer
from highseas.engine.errors import ErrorCode, HighSeasError
from highseas.notify.models import Notification
from highseas.pools import ownership, requests
from highseas.pools.invariants import run_checks
from highseas.pools.merge import merge
from highseas.pools.models import ClaimPolicy, ClaimRequest, OwnershipEvent

pytestmark = pytest.mark.django_db

NOW = timezone.now().replace(microsecond=0)

Api = Callable[[User], APIClient]


@pytest.fixture
def approval(org: dict[str, Any]) -> dict[str, Any]:
    ClaimPolicy.objects.filter(pool=org["east_pool"]).update(
        requires_approval=True, approval_expiry_hours=24
    )
    return org


@pytest.fixture
def pooled(approval: dict[str, Any], make_customer: Callable[..., Customer]) -> Customer:
    return make_customer(approval["admin"], pool=approval["east_pool"])


def requested(org: dict[str, Any], customer: Customer, reason: str = "老客户介绍") -> ClaimRequest:
    request = ownership.claim(org["rep_a"], customer.pk, reason=reason, now=NOW).request
    assert request is not None
    return request


def trace() -> tuple[Any, ...]:
    """Everything a refused action must leave untouched."""
    return (
        list(Customer.objects.order_by("id").values_list("id", "status", "owner_id", "pool_id")),
        list(OwnershipEvent.objects.order_by("id").values_list("id", flat=True)),
        list(ClaimRequest.objects.order_by("id").values_list("id", "state", "reason")),
    )


def refused(code: ErrorCode, action: Callable[[], Any]) -> HighSeasError:
    before = trace()
    with pytest.raises(HighSeasError) as caught:
        action()
    assert caught.value.code is code, caught.value.as_dict()
    assert trace() == before
    return caught.value


def test_approval_names_the_manager_as_actor_and_the_requester_in_the_reason(
    approval: dict[str, Any], pooled: Customer
) -> None:
    request = requested(approval, pooled, "展会上认识")
    with translation.override("en"):
        decided = requests.approve(approval["east_manager"], request.pk, note="同意", now=NOW)
    event = OwnershipEvent.objects.filter(customer=pooled).latest("id")
    assert (event.kind, event.to_owner, event.actor, event.actor_label) == (
        "claimed",
        approval["rep_a"],
        approval["east_manager"],
        "mgr_east",
    )
    assert event.reason == "Requested by REP_A, approved by manager MGR_EAST: 展会上认识"
    assert (decided.state, decided.decided_by, decided.decided_at) == (
        "approved",
        approval["east_manager"],
        NOW,
    )
    assert run_checks().ok


def test_the_approve_answer_names_the_deciding_manager(
    approval: dict[str, Any], pooled: Customer, api: Api
) -> None:
    request = requested(approval, pooled)
    body = (
        api(approval["east_manager"])
        .post(f"/api/v1/claim-requests/{request.pk}/approve/", {}, format="json")
        .json()
    )
    assert (body["state"], body["decided_by"]) == ("approved", approval["east_manager"].pk)
    assert body["decided_at"] is not None


@pytest.mark.parametrize("decide", [requests.approve, requests.reject])
def test_the_requester_is_told_of_the_decision_iff_it_commits(
    approval: dict[str, Any],
    pooled: Customer,
    decide: Callable[..., ClaimRequest],
    django_capture_on_commit_callbacks: Any,
) -> None:
    """The notice is written in the decision's own transaction: nothing is left to do after
    the commit (where a lost lock would answer an error for a decision that was saved), and a
    decision rolled back tells nobody."""
    request = requested(approval, pooled)
    told = Notification.objects.filter(recipient=approval["rep_a"], customer=pooled)
    with pytest.raises(RuntimeError), transaction.atomic():
        decide(approval["east_manager"], request.pk, note="看看", now=NOW)
        assert told.count() == 1
        raise RuntimeError("the caller's transaction fails after the decision")
    assert not told.exists()
    assert ClaimRequest.objects.get(pk=request.pk).state == ClaimRequest.State.PENDING
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        decide(approval["east_manager"], request.pk, note="看看", now=NOW)
    assert callbacks == []
    assert told.get().kind == f"claim_{ClaimRequest.objects.get(pk=request.pk).state}"


def test_a_pool_that_asks_for_a_reason_refuses_a_claim_without_one(
    approval: dict[str, Any], pooled: Customer
) -> None:
    ClaimPolicy.objects.filter(pool=approval["east_pool"]).update(requires_reason=True)
    error = refused(
        ErrorCode.VALIDATION_ERROR,
        lambda: ownership.claim(approval["rep_a"], pooled.pk, reason="  ", now=NOW),
    )
    assert error.facts == {"errors": {"reason": ["required"]}}
    assert requested(approval, pooled, "客户主动来电").reason == "客户主动来电"


def test_a_direct_claim_in_a_pool_that_asks_for_a_reason_needs_one_too(
    approval: dict[str, Any], pooled: Customer
) -> None:
    ClaimPolicy.objects.filter(pool=approval["east_pool"]).update(
        requires_approval=False, requires_reason=True
    )
    refused(
        ErrorCode.VALIDATION_ERROR, lambda: ownership.claim(approval["rep_a"], pooled.pk, now=NOW)
    )
    ownership.claim(approval["rep_a"], pooled.pk, reason="老客户转介绍", now=NOW)
    event = OwnershipEvent.objects.filter(customer=pooled).latest("id")
    assert (event.kind, event.reason) == ("claimed", "老客户转介绍")


def test_a_non_member_is_refused_as_such_before_the_reason(
    approval: dict[str, Any], pooled: Customer
) -> None:
    ClaimPolicy.objects.filter(pool=approval["east_pool"]).update(requires_reason=True)
    refused(ErrorCode.NOT_POOL_MEMBER, lambda: ownership.claim(approval["rep_c"], pooled.pk))


def test_the_api_claim_without_a_reason_names_the_field(
    approval: dict[str, Any], pooled: Customer, api: Api
) -> None:
    ClaimPolicy.objects.filter(pool=approval["east_pool"]).update(requires_reason=True)
    response = api(approval["rep_a"]).post(f"/api/v1/customers/{pooled.pk}/claim/", {})
    assert response.status_code == 400
    body = response.json()
    assert (body["code"], body["errors"]) == ("validation_error", {"reason": ["required"]})
    assert not ClaimRequest.objects.exists()


def test_without_the_flag_a_claim_request_needs_no_reason(
    approval: dict[str, Any], pooled: Customer, api: Api
) -> None:
    response = api(approval["rep_a"]).post(f"/api/v1/customers/{pooled.pk}/claim/", {})
    assert response.status_code == 202
    assert response.json()["request"]["reason"] == "领取申请"


def test_the_requester_withdraws_a_pending_request(
    approval: dict[str, Any], pooled: Customer
) -> None:
    request = requested(approval, pooled)
    events = OwnershipEvent.objects.count()
    withdrawn = requests.withdraw(approval["rep_a"], request.pk, now=NOW)
    assert withdrawn.state == "withdrawn"
    assert ClaimRequest.objects.get(pk=request.pk).state == "withdrawn"
    assert OwnershipEvent.objects.count() == events
    assert requested(approval, pooled).pk != request.pk  # the rep may ask again


def test_only_the_requester_withdraws(approval: dict[str, Any], pooled: Customer) -> None:
    """Who sees the request (its pool's manager, an admin) is refused; other reps are told
    there is no such request."""
    request = requested(approval, pooled)
    for other, code in (
        ("east_manager", ErrorCode.PERMISSION_DENIED),
        ("admin", ErrorCode.PERMISSION_DENIED),
        ("rep_b", ErrorCode.NOT_FOUND),
        ("rep_c", ErrorCode.NOT_FOUND),
    ):
        refused(code, lambda other=other: requests.withdraw(approval[other], request.pk, now=NOW))


def test_withdrawing_twice_is_a_state_conflict(approval: dict[str, Any], pooled: Customer) -> None:
    request = requested(approval, pooled)
    requests.withdraw(approval["rep_a"], request.pk, now=NOW)
    error = refused(
        ErrorCode.STATE_CONFLICT, lambda: requests.withdraw(approval["rep_a"], request.pk, now=NOW)
    )
    assert error.facts == {"state": "withdrawn"}


def test_a_withdrawn_request_cannot_be_approved_or_rejected(
    approval: dict[str, Any], pooled: Customer
) -> None:
    request = requested(approval, pooled)
    requests.withdraw(approval["rep_a"], request.pk, now=NOW)
    for decide in (requests.approve, requests.reject):
        refused(
            ErrorCode.STATE_CONFLICT,
            lambda decide=decide: decide(approval["east_manager"], request.pk, now=NOW),
        )


def test_a_rep_cannot_reject(approval: dict[str, Any], pooled: Customer) -> None:
    request = requested(approval, pooled)
    refused(ErrorCode.PERMISSION_DENIED, lambda: requests.reject(approval["rep_b"], request.pk))


def test_expired_and_withdrawn_requests_leave_no_ledger_row(
    approval: dict[str, Any], make_customer: Callable[..., Customer]
) -> None:
    first = make_customer(approval["admin"], pool=approval["east_pool"])
    second = make_customer(approval["admin"], pool=approval["east_pool"])
    events = OwnershipEvent.objects.count()
    requests.withdraw(approval["rep_a"], requested(approval, first).pk, now=NOW)
    requested(approval, second)
    assert requests.expire_requests(NOW + timezone.timedelta(hours=24)) == 1
    assert OwnershipEvent.objects.count() == events


class TestTheApi:
    def test_the_rep_sees_their_pending_request_for_the_customer(
        self,
        approval: dict[str, Any],
        pooled: Customer,
        api: Api,
        make_customer: Callable[..., Customer],
    ) -> None:
        requested(approval, make_customer(approval["admin"], pool=approval["east_pool"]))
        request = requested(approval, pooled)
        path = f"/api/v1/claim-requests/?state=pending&customer={pooled.pk}"
        listed = api(approval["rep_a"]).get(path).json()["results"]
        assert [(r["id"], r["state"], r["reason"]) for r in listed] == [
            (request.pk, "pending", "老客户介绍")
        ]
        assert api(approval["rep_b"]).get(path).json()["results"] == []

    def test_the_requester_withdraws(
        self, approval: dict[str, Any], pooled: Customer, api: Api
    ) -> None:
        request = requested(approval, pooled)
        path = f"/api/v1/claim-requests/{request.pk}/withdraw/"
        response = api(approval["rep_a"]).post(path, {}, format="json")
        assert response.status_code == 200, response.content
        assert response.json()["state"] == "withdrawn"
        again = api(approval["rep_a"]).post(path, {}, format="json")
        assert (again.status_code, again.json()["code"]) == (409, "state_conflict")

    def test_another_rep_cannot_withdraw(
        self, approval: dict[str, Any], pooled: Customer, api: Api
    ) -> None:
        request = requested(approval, pooled)
        path = f"/api/v1/claim-requests/{request.pk}/withdraw/"
        for other, status in (("rep_b", 404), ("east_manager", 403)):
            response = api(approval[other]).post(path, {}, format="json")
            assert response.status_code == status
        assert ClaimRequest.objects.get(pk=request.pk).state == "pending"


def test_a_merge_locks_the_pending_requests_it_rejects_before_the_customers(
    approval: dict[str, Any], pooled: Customer, make_customer: Callable[..., Customer]
) -> None:
    """An approval locks its request, then the customer it claims; a merge held the customers
    and then locked the absorbed customer's pending requests to reject them: the two could
    wait on each other in a cycle. The merge now locks the requests first."""
    request = requested(approval, pooled)
    survivor = make_customer(approval["admin"], pool=approval["east_pool"])
    with CaptureQueriesContext(connection) as captured:
        merge(approval["east_manager"], survivor.pk, pooled.pk)
    assert ClaimRequest.objects.get(pk=request.pk).state == ClaimRequest.State.REJECTED
    locks = [q["sql"] for q in captured.captured_queries if "FOR UPDATE" in q["sql"]]
    if not connection.features.has_select_for_update:
        assert locks == []
        return
    assert '"pools_claimrequest"' in locks[0].split("WHERE")[0], locks
    assert any('FROM "customers_customer"' in lock for lock in locks[1:]), locks
