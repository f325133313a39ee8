"""A refused claim that wrote nothing ends its transaction with a commit, not a rollback: at a
rollback psycopg forgets every statement the connection prepared (and its counts towards
preparing one), so in a rush where half the claims lose a race each connection parsed and
planned the claim's statements again at nearly every claim. It still leaves no trace; a
refusal after a write (the rep's missing profile, made first) is still rolled back
(``test_claim_races``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection, transaction

from highseas.customers.models import Customer
from highseas.engine.errors import ErrorCode, HighSeasError
from highseas.pools import ownership
from highseas.pools.models import ClaimRequest, OwnershipEvent
from tests.prepared import prepared_statements

pytestmark = pytest.mark.django_db(transaction=True)


def test_refused_claims_keep_the_connection_s_prepared_statements(
    org: dict[str, Any], make_customer: Callable[..., Customer]
) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("statement preparation is PostgreSQL's (psycopg's prepare_threshold)")
    taken = make_customer(org["admin"], pool=org["east_pool"])
    ownership.claim(org["rep_b"], taken.pk)
    for _ in range(8):  # prepared at the fifth execution; every one of these is refused
        with pytest.raises(HighSeasError) as refused:
            ownership.claim(org["rep_a"], taken.pk)
        assert refused.value.code == ErrorCode.ALREADY_OWNED
    assert prepared_statements("%held_open%") == 1  # the facts' read


def test_a_refused_claim_leaves_no_trace(
    org: dict[str, Any], make_customer: Callable[..., Customer]
) -> None:
    taken = make_customer(org["admin"], pool=org["east_pool"])
    ownership.claim(org["rep_b"], taken.pk)
    before = Customer.objects.values().get(pk=taken.pk)
    events = OwnershipEvent.objects.count()
    with pytest.raises(HighSeasError):
        ownership.claim(org["rep_a"], taken.pk, reason="我先联系过")
    assert Customer.objects.values().get(pk=taken.pk) == before
    assert OwnershipEvent.objects.count() == events
    assert not ClaimRequest.objects.exists()


def test_inside_a_caller_s_transaction_a_refusal_leaves_the_caller_s_writes_alone(
    org: dict[str, Any], make_customer: Callable[..., Customer]
) -> None:
    taken = make_customer(org["admin"], pool=org["east_pool"])
    ownership.claim(org["rep_b"], taken.pk)
    other = make_customer(org["admin"], pool=org["east_pool"])
    with transaction.atomic():
        ownership.claim(org["rep_a"], other.pk)
        with pytest.raises(HighSeasError):
            ownership.claim(org["rep_a"], taken.pk)
    assert Customer.objects.get(pk=other.pk).owner_id == org["rep_a"].pk
    assert Customer.objects.get(pk=taken.pk).owner_id == org["rep_b"].pk
