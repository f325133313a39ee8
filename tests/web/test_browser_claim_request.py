"""A claim that waits for a manager, in a real browser: the rep sees it pending, withdraws it,
and asks again with a reason."""

from __future__ import annotations

from typing import Any

import pytest

from highseas.pools.models import ClaimRequest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_rep_sees_their_pending_request_and_withdraws_it(
    world: dict[str, Any], sign_in: Any, screenshot: Any, live_server: Any
) -> None:
    pending = world["request"]
    rep_b = sign_in("rep_b")
    rep_b.goto(f"{live_server.url}/pool/?pool={pending.customer.pool_id}")
    row = rep_b.locator("tbody tr", has_text=pending.customer.name)
    badge = row.locator(f"[data-pending='{pending.customer_id}']")
    badge.wait_for()
    assert badge.inner_text() == "申请中"
    assert row.locator("[data-claim]").count() == 0
    screenshot(rep_b, "18-pool-request-pending")

    rep_b.once("dialog", lambda dialog: dialog.accept())
    row.locator(f"[data-withdraw='{pending.pk}']").click()
    rep_b.locator(".toast.success").last.wait_for()
    assert ClaimRequest.objects.get(pk=pending.pk).state == ClaimRequest.State.WITHDRAWN
    row = rep_b.locator("tbody tr", has_text=pending.customer.name)
    row.locator("summary", has_text="领取").click()
    row.locator("textarea[name=reason]").fill("客户上周主动来电咨询，我跟进过")
    screenshot(rep_b, "19-pool-request-with-reason")
    row.locator("[data-claim]").click()
    rep_b.locator(".toast").last.wait_for()
    again = ClaimRequest.objects.get(customer=pending.customer, state=ClaimRequest.State.PENDING)
    assert (again.requester_id, again.reason) == (
        pending.requester_id,
        "客户上周主动来电咨询，我跟进过",
    )
    rep_b.locator("tbody tr", has_text=pending.customer.name).locator("[data-pending]").wait_for()
