"""The console's sweep and policy pages show a manager only their team's customers, and agree
with the API on who edits a pool's policies and which per-level overrides exist."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from highseas.accounts.models import User
from highseas.customers.models import Customer
from highseas.pools import ownership
from highseas.pools import services as pools
from highseas.pools.models import RecyclePolicy
from highseas.pools.policies import LEVEL_OVERRIDE_KEYS
from highseas.web.policy_form import PoolPolicyForm
from tests.web.pages import signed_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def held(org: dict[str, Any], make_customer: Callable[..., Customer]) -> dict[str, Customer]:
    RecyclePolicy.objects.filter(pool=org["east_pool"]).update(idle_days=7, warn_days=3)
    pools.save_pool(org["east_pool"], admins=[org["east_manager"]])
    past = timezone.now() - timedelta(days=8)
    east = make_customer(org["admin"], pool=org["east_pool"], now=past)
    south = make_customer(org["admin"], pool=org["east_pool"], now=past, name="华南外队客户")
    ownership.assign(org["admin"], east.pk, org["rep_a"], now=past)
    ownership.assign(org["admin"], south.pk, org["rep_c"], now=past)
    return {"east": east, "south": south}


POLICY_FORM = {
    "idle_days": "5",
    "warn_days": "1",
    "effective_activity_kinds": ["call", "visit"],
    "exempt_won": "on",
    "destination": "same_pool",
    "days": "7",
    "action": "preview",
}


def test_the_sweep_page_shows_a_manager_only_their_teams_customers(
    org: dict[str, Any], held: dict[str, Customer]
) -> None:
    response = signed_in(org["east_manager"]).get(f"/console/sweep/?pool={org['east_pool'].pk}")
    page = response.content.decode()
    assert held["east"].name in page
    assert "华南外队客户" not in page and "REP_C" not in page


def test_the_policy_preview_shows_a_manager_only_their_teams_customers(
    org: dict[str, Any], held: dict[str, Customer]
) -> None:
    response = signed_in(org["east_manager"]).post(
        f"/console/pools/{org['east_pool'].pk}/", POLICY_FORM
    )
    page = response.content.decode()
    assert held["east"].name in page
    assert "REP_C" not in page and "华南外队客户" not in page
    assert response.context["preview"].by_owner == {"REP_A": 1}
    assert response.context["hidden_rows"] == 0


def test_a_manager_who_does_not_administer_the_pool_cannot_open_its_policies(
    org: dict[str, Any],
) -> None:
    response = signed_in(org["east_manager"]).get(f"/console/pools/{org['east_pool'].pk}/")
    assert response.status_code == 404


def test_the_policy_form_offers_every_level_override_the_api_accepts(
    org: dict[str, Any],
) -> None:
    form = PoolPolicyForm(None, pool=org["east_pool"])
    offered = {name.rsplit("_", 1)[0] for name in form.fields if name.endswith("_A")}
    assert (
        offered
        == set(LEVEL_OVERRIDE_KEYS)
        == {
            "idle_days",
            "no_deal_days",
            "first_contact_hours",
            "warn_days",
        }
    )


def test_a_warn_days_override_saved_on_the_web_reaches_the_policy(
    org: dict[str, Any], held: dict[str, Customer]
) -> None:
    client = signed_in(org["east_manager"])
    url = f"/console/pools/{org['east_pool'].pk}/"
    data = {**POLICY_FORM, "warn_days_A": "2", "first_contact_hours_B": "24"}
    fingerprint = client.post(url, data).context["fingerprint"]
    saved = client.post(url, {**data, "action": "save", "previewed": fingerprint})
    assert saved.status_code == 302
    assert RecyclePolicy.objects.get(pool=org["east_pool"]).level_overrides == {
        "A": {"warn_days": 2},
        "B": {"first_contact_hours": 24},
    }


# --- the customer page and the API read one timeline --------------------------------------------


@pytest.fixture
def followed_up(org: dict[str, Any], make_customer: Callable[..., Customer]) -> Customer:
    from highseas.pools import followups

    customer = make_customer(org["rep_a"], owner=org["rep_a"], pool=org["east_pool"])
    followups.log_activity(org["rep_a"], customer.pk, kind="call", note="约了下周二拜访")
    followups.open_deal(org["rep_a"], customer.pk, amount=8000, name="年度框架合同")
    return customer


def _api_and_page(user: User, customer: Customer) -> tuple[str, str]:
    from rest_framework.test import APIClient

    api = APIClient()
    api.force_authenticate(user)
    answers = [
        api.get(f"/api/v1/customers/{customer.pk}/{what}/") for what in ("activities", "deals")
    ]
    page = signed_in(user).get(f"/customers/{customer.pk}/").content.decode()
    return "".join(a.content.decode() for a in answers), page


def test_a_rep_of_the_pool_reads_no_follow_ups_of_a_pooled_customer_on_either_edge(
    org: dict[str, Any], followed_up: Customer
) -> None:
    ownership.release(org["rep_a"], followed_up.pk, reason="暂无需求")
    api_text, page = _api_and_page(org["rep_b"], followed_up)
    assert ["约了下周二拜访" in api_text, "约了下周二拜访" in page] == [False, False]
    assert ["年度框架合同" in api_text, "年度框架合同" in page] == [False, False]


def test_an_owner_under_a_role_mask_reads_their_own_follow_ups_on_both_edges(
    org: dict[str, Any], followed_up: Customer, settings: Any
) -> None:
    settings.HIGHSEAS_ROLE_MASKED_FIELDS = {"rep": ["phone"]}
    api_text, page = _api_and_page(org["rep_a"], followed_up)
    assert ["约了下周二拜访" in api_text, "约了下周二拜访" in page] == [True, True]
    assert ["年度框架合同" in api_text, "年度框架合同" in page] == [True, True]
