"""Review of the claim's read when the rep has no profile row yet (the pipelined lock finds no
row, so the facts read ran unlocked; ``facts.lock_reps`` creates the row, locks it, and the
facts are read again). Two first claims of one rep at the same moment, on real threads, each
for its own customer, at a limit of one: exactly one wins, the other is refused with the
limit's code, one claimed ledger row is written, and one profile row exists."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection

from highseas.accounts.models import RepProfile
from highseas.customers.models import Customer
from highseas.engine.errors import ErrorCode, HighSeasError
from highseas.pools import ownership
from highseas.pools.models import ClaimPolicy, OwnershipEvent

pytestmark = pytest.mark.django_db(transaction=True)


def _claim_at_once(rep: Any, customers: list[Customer]) -> list[Any]:
    """Each customer claimed by ``rep`` on its own thread, released together: the owner's id
    or the refusal's code (or the crash) of each."""
    start = threading.Barrier(len(customers))
    outcomes: list[Any] = [None] * len(customers)

    def claim(index: int) -> None:
        try:
            start.wait(10)
            outcomes[index] = ownership.claim(rep, customers[index].pk).customer.owner_id
        except HighSeasError as refusal:
            outcomes[index] = refusal.code
        except Exception as crash:  # shown by the assertion
            outcomes[index] = crash
        finally:
            connection.close()

    threads = [threading.Thread(target=claim, args=(i,)) for i in range(len(customers))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return outcomes


@pytest.mark.parametrize(
    ("limit", "code"),
    [
        ({"holding_cap": 1}, ErrorCode.HOLDING_CAP_REACHED),
        ({"daily_quota": 1}, ErrorCode.CLAIM_QUOTA_EXCEEDED),
        ({"weekly_quota": 1}, ErrorCode.CLAIM_QUOTA_EXCEEDED),
    ],
)
@pytest.mark.parametrize("rounds", [4])
def test_two_first_claims_of_a_rep_without_a_profile_keep_the_limit(
    org: dict[str, Any],
    make_user: Callable[..., Any],
    make_customer: Callable[..., Customer],
    limit: dict[str, int],
    code: ErrorCode,
    rounds: int,
) -> None:
    ClaimPolicy.objects.filter(pool=org["east_pool"]).update(**limit)
    for round_number in range(rounds):
        rep = make_user("rep", f"newcomer{round_number}", team=org["east"])
        RepProfile.objects.filter(user=rep).delete()  # as a rep made before profiles existed
        customers = [make_customer(org["admin"], pool=org["east_pool"]) for _ in range(2)]
        outcomes = _claim_at_once(rep, customers)
        assert sorted(outcomes, key=str) == sorted([rep.pk, code], key=str), outcomes
        assert Customer.objects.filter(owner=rep).count() == 1
        assert OwnershipEvent.objects.filter(to_owner=rep, kind="claimed").count() == 1
        assert RepProfile.objects.filter(user=rep).count() == 1
