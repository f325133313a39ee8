"""The manager console through Django's test client: only managers, and what each page does."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from highseas.customers.models import Customer
from highseas.intake import creation as intake
from highseas.pools import services as pools
from highseas.pools.models import ClaimPolicy, ClaimRequest, RecyclePolicy
from tests.web.pages import html, messages_of, signed_in

pytestmark = pytest.mark.django_db

CONSOLE = [
    "/console/",
    "/console/customers/",
    "/console/approvals/",
    "/console/pools/",
    "/console/sweep/",
]


@pytest.mark.parametrize("url", CONSOLE)
def test_a_rep_is_refused_every_console_page(world: dict[str, Any], url: str) -> None:
    response = signed_in(world["rep_a"]).get(url)
    assert response.status_code == 403
    assert "此页面仅供经理使用" in response.content.decode()


@pytest.mark.parametrize("url", CONSOLE)
def test_a_manager_opens_every_console_page(world: dict[str, Any], url: str) -> None:
    page = html(signed_in(world["east_manager"]).get(url))
    assert "http://" not in page and "https://" not in page


def test_a_rep_cannot_post_console_actions(world: dict[str, Any]) -> None:
    client = signed_in(world["rep_a"])
    held = world["held_b"][1]
    bulk = {"ids": [held.pk], "action": "give", "owner": world["rep_a"].pk}
    assert client.post("/console/customers/bulk/", bulk).status_code == 403
    decide = f"/console/approvals/{world['request'].pk}/approve/"
    assert client.post(decide).status_code == 403
    assert Customer.objects.get(pk=held.pk).owner == world["rep_b"]
    assert ClaimRequest.objects.get(pk=world["request"].pk).state == "pending"


def test_the_dashboard_draws_its_charts_inline(world: dict[str, Any]) -> None:
    page = html(signed_in(world["east_manager"]).get("/console/"))
    assert page.count('<svg class="chart') == 8  # each chart for a laptop and a phone
    assert "<polyline" in page and "华东公海" in page
    assert "REP_A" in page and "REP_B" in page


def test_team_customers_stay_within_the_managers_subtree(world: dict[str, Any]) -> None:
    outsider = intake.create_customer(
        actor=world["rep_c"],
        fields={"name": "广州天河商贸有限公司"},
        owner=world["rep_c"],
        pool=world["south_pool"],
    ).customer
    page = html(signed_in(world["east_manager"]).get("/console/customers/"))
    assert world["held_a"][0].name in page and world["held_b"][1].name in page
    assert outsider.name not in page
    assert "REP_C" not in page


def test_team_customers_filter_by_owner(world: dict[str, Any]) -> None:
    client = signed_in(world["east_manager"])
    page = html(client.get(f"/console/customers/?owner={world['rep_b'].pk}"))
    assert world["held_b"][1].name in page
    assert world["held_a"][0].name not in page


def test_a_manager_transfers_customers_in_bulk(world: dict[str, Any]) -> None:
    ids = [world["held_a"][2].pk, world["held_a"][3].pk]
    response = signed_in(world["east_manager"]).post(
        "/console/customers/bulk/",
        {"ids": ids, "action": "give", "owner": world["rep_b"].pk, "reason": "李明休假"},
        follow=True,
    )
    assert messages_of(response) == ["已处理 2 / 2 个客户。"]
    assert set(Customer.objects.filter(pk__in=ids).values_list("owner__username", flat=True)) == {
        "rep_b"
    }


def test_a_bulk_transfer_past_the_cap_says_which_were_refused(world: dict[str, Any]) -> None:
    holdings = Customer.objects.filter(owner=world["rep_b"], stage__in=["prospect", "contacted"])
    pools.save_pool(world["east_pool"], claim_policy={"holding_cap": holdings.count() + 1})
    ids = [world["held_a"][2].pk, world["held_a"][3].pk]
    response = signed_in(world["east_manager"]).post(
        "/console/customers/bulk/",
        {"ids": ids, "action": "give", "owner": world["rep_b"].pk},
        follow=True,
    )
    [message] = messages_of(response)
    assert message == (
        "已处理 1 / 2 个客户。未成功：上海汇智医疗科技有限公司："
        f"REP_B 已持有 {holdings.count()} 个客户，达到保有量上限（{holdings.count()}）。"
    )


def test_a_bulk_freeze_needs_a_date_and_then_freezes(world: dict[str, Any]) -> None:
    client = signed_in(world["east_manager"])
    customer = world["held_b"][1]
    refused = client.post(
        "/console/customers/bulk/", {"ids": [customer.pk], "action": "freeze"}, follow=True
    )
    assert messages_of(refused) == ["请选择冻结截止时间。"]
    until = (timezone.localtime() + timedelta(days=3)).strftime("%Y-%m-%dT%H:%M")
    client.post(
        "/console/customers/bulk/", {"ids": [customer.pk], "action": "freeze", "until": until}
    )
    assert Customer.objects.get(pk=customer.pk).status == "frozen"


def test_a_manager_assigns_a_pooled_customer_from_its_page(world: dict[str, Any]) -> None:
    target = world["target"]
    client = signed_in(world["east_manager"])
    assert "分配" in html(client.get(f"/customers/{target.pk}/"))
    response = client.post(
        f"/customers/{target.pk}/give/", {"owner": world["rep_b"].pk}, follow=True
    )
    assert messages_of(response) == [f"{target.name} 现归 REP_B 负责。"]
    assert Customer.objects.get(pk=target.pk).owner == world["rep_b"]


def test_a_manager_approves_a_claim(world: dict[str, Any]) -> None:
    request = world["request"]
    response = signed_in(world["east_manager"]).post(
        f"/console/approvals/{request.pk}/approve/", {"note": "同意"}, follow=True
    )
    assert messages_of(response) == [f"已批准：{request.customer.name} 现归 REP_B 负责。"]
    assert Customer.objects.get(pk=request.customer_id).owner == world["rep_b"]


def test_a_manager_rejects_a_claim(world: dict[str, Any]) -> None:
    request = world["request"]
    signed_in(world["east_manager"]).post(f"/console/approvals/{request.pk}/reject/")
    assert ClaimRequest.objects.get(pk=request.pk).state == "rejected"
    assert Customer.objects.get(pk=request.customer_id).status == "pooled"


def test_another_teams_manager_cannot_decide_a_claim(world: dict[str, Any]) -> None:
    request = world["request"]
    response = signed_in(world["south_manager"]).post(
        f"/console/approvals/{request.pk}/approve/", follow=True
    )
    assert messages_of(response) == ["领取申请不存在。"]
    assert ClaimRequest.objects.get(pk=request.pk).state == "pending"


def _policy_form(world: dict[str, Any], **changes: Any) -> dict[str, Any]:
    form = {
        "daily_quota": "3",
        "weekly_quota": "20",
        "holding_cap": "30",
        "reclaim_cooldown_days": "7",
        "idle_days": "30",
        "no_deal_days": "90",
        "first_contact_hours": "48",
        "warn_days": "3",
        "effective_activity_kinds": ["call", "visit", "meeting", "wechat", "email"],
        "exempt_won": "on",
        "destination": "same_pool",
        "days": "7",
    }
    return {**form, **changes}


def test_the_policy_editor_previews_before_it_saves(world: dict[str, Any]) -> None:
    url = f"/console/pools/{world['east_pool'].pk}/"
    client = signed_in(world["east_manager"])
    preview = client.post(url, _policy_form(world, idle_days="10", action="preview"))
    page = html(preview)
    assert "按新规则，未来 7 天内将有" in page and "宁波港联物流有限公司" in page
    assert RecyclePolicy.objects.get(pool=world["east_pool"]).idle_days == 30
    fingerprint = preview.context["fingerprint"]
    saved = client.post(
        url, _policy_form(world, idle_days="10", action="save", previewed=fingerprint)
    )
    assert saved.status_code == 302
    assert RecyclePolicy.objects.get(pool=world["east_pool"]).idle_days == 10


def test_saving_settings_that_were_not_previewed_shows_the_preview_again(
    world: dict[str, Any],
) -> None:
    url = f"/console/pools/{world['east_pool'].pk}/"
    client = signed_in(world["east_manager"])
    preview = client.post(url, _policy_form(world, idle_days="10", action="preview"))
    response = client.post(
        url,
        _policy_form(world, idle_days="5", action="save", previewed=preview.context["fingerprint"]),
    )
    assert "规则在上次预览后有改动" in html(response)
    assert RecyclePolicy.objects.get(pool=world["east_pool"]).idle_days == 30


def test_per_level_overrides_are_saved(world: dict[str, Any]) -> None:
    url = f"/console/pools/{world['east_pool'].pk}/"
    client = signed_in(world["east_manager"])
    data = _policy_form(world, idle_days_A="60", exempt_levels=["C"], action="preview")
    fingerprint = client.post(url, data).context["fingerprint"]
    client.post(url, {**data, "action": "save", "previewed": fingerprint})
    policy = RecyclePolicy.objects.get(pool=world["east_pool"])
    assert policy.level_overrides == {"A": {"idle_days": 60}}
    assert policy.exempt_levels == ["C"]


def test_only_the_pools_admins_edit_its_policies(world: dict[str, Any]) -> None:
    url = f"/console/pools/{world['east_pool'].pk}/"
    assert signed_in(world["south_manager"]).get(url).status_code == 404
    assert signed_in(world["rep_a"]).get(url).status_code == 403
    assert signed_in(world["admin"]).get(url).status_code == 200


def test_the_sweep_preview_shows_what_would_go_back_and_writes_nothing(
    world: dict[str, Any],
) -> None:
    at = (timezone.localtime() + timedelta(days=3)).strftime("%Y-%m-%dT%H:%M")
    before = list(Customer.objects.order_by("pk").values_list("pk", "status", "owner_id"))
    page = html(
        signed_in(world["east_manager"]).get(
            f"/console/sweep/?pool={world['east_pool'].pk}&at={at}"
        )
    )
    assert "苏州博远电子有限公司" in page and "30 天无有效跟进" in page
    assert "宁波港联物流有限公司" not in page
    after = list(Customer.objects.order_by("pk").values_list("pk", "status", "owner_id"))
    assert before == after


def test_the_sweep_preview_narrows_to_one_rep(world: dict[str, Any]) -> None:
    at = (timezone.localtime() + timedelta(days=3)).strftime("%Y-%m-%dT%H:%M")
    page = html(
        signed_in(world["east_manager"]).get(f"/console/sweep/?owner={world['rep_b'].pk}&at={at}")
    )
    assert "苏州博远电子有限公司" not in page


def _in_english(user: Any) -> Client:
    client = signed_in(user)
    client.post("/i18n/setlang/", {"language": "en", "next": "/console/"})
    return client


def test_a_bulk_transfer_of_a_frozen_customer_says_its_freeze_ended(world: dict[str, Any]) -> None:
    frozen, owned = world["frozen"], world["held_a"][2]
    response = _in_english(world["east_manager"]).post(
        "/console/customers/bulk/",
        {"ids": [frozen.pk, owned.pk], "action": "give", "owner": world["rep_b"].pk},
        follow=True,
    )
    assert messages_of(response) == [
        f"2 of 2 customers done. The transfer ended the freeze of: {frozen.name}."
    ]
    assert Customer.objects.get(pk=frozen.pk).status == "owned"


def test_transferring_a_frozen_customer_from_its_page_says_the_freeze_ended(
    world: dict[str, Any],
) -> None:
    frozen = world["frozen"]
    response = _in_english(world["east_manager"]).post(
        f"/customers/{frozen.pk}/give/", {"owner": world["rep_b"].pk}, follow=True
    )
    assert messages_of(response) == [
        f"{frozen.name} now belongs to REP_B. The transfer ended its freeze."
    ]


def test_the_approvals_page_lists_a_withdrawn_request_as_decided(world: dict[str, Any]) -> None:
    request = world["request"]
    signed_in(world["rep_b"]).post(f"/claim-requests/{request.pk}/withdraw/")
    page = html(signed_in(world["east_manager"]).get("/console/approvals/"))
    row = page[: page.index('class="badge req-withdrawn"')]
    assert request.customer.name in row[row.rindex("<tr>") :]
    assert f"/console/approvals/{request.pk}/approve/" not in page


def test_the_policy_editor_sets_whether_claims_need_a_reason(world: dict[str, Any]) -> None:
    url = f"/console/pools/{world['east_pool'].pk}/"
    client = signed_in(world["east_manager"])
    assert 'name="requires_reason"' in html(client.get(url))
    data = _policy_form(world, requires_reason="on", action="preview")
    fingerprint = client.post(url, data).context["fingerprint"]
    client.post(url, {**data, "action": "save", "previewed": fingerprint})
    assert ClaimPolicy.objects.get(pool=world["east_pool"]).requires_reason is True
