"""The deal pipeline: a rep's board shows their deals, a manager's their subtree's; deals move
through the intermediate stages to won or lost, and their amount and expected close change,
through the services; the wrong person changes nothing."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from rest_framework.test import APIClient

from highseas.accounts.visibility import Viewer
from highseas.customers.models import Customer, Deal
from highseas.intake.creation import create_customer
from highseas.pools import followups, pipeline
from tests.web.pages import html, signed_in

pytestmark = pytest.mark.django_db


def _customer(owner: Any, name: str) -> Customer:
    return create_customer(actor=owner, fields={"name": name}, owner=owner).customer


@pytest.fixture
def deals(org: dict[str, Any]) -> dict[str, Deal]:
    a = _customer(org["rep_a"], "杭州云帆网络科技有限公司")
    b = _customer(org["rep_b"], "宁波海曙精工机械有限公司")
    c = _customer(org["rep_c"], "广州珠江电子科技有限公司")
    return {
        "a": followups.open_deal(org["rep_a"], a.pk, amount=Decimal("128000"), name="数据平台一期"),
        "b": followups.open_deal(org["rep_b"], b.pk, amount=Decimal("56000"), stage="proposal"),
        "c": followups.open_deal(org["rep_c"], c.pk, amount=Decimal("9000")),
    }


def _on_board(viewer: Any) -> set[int]:
    return {d.pk for column in pipeline.board(Viewer(viewer)) for d in column.deals}


def test_a_rep_sees_only_their_deals(org: dict[str, Any], deals: dict[str, Deal]) -> None:
    assert _on_board(org["rep_a"]) == {deals["a"].pk}


def test_a_manager_sees_their_subtree(org: dict[str, Any], deals: dict[str, Deal]) -> None:
    assert _on_board(org["east_manager"]) == {deals["a"].pk, deals["b"].pk}
    assert _on_board(org["admin"]) == {d.pk for d in deals.values()}


def test_the_board_counts_and_totals_each_stage(
    org: dict[str, Any], deals: dict[str, Deal]
) -> None:
    columns = {c.stage: c for c in pipeline.board(Viewer(org["east_manager"]))}
    assert (columns["qualification"].count, columns["qualification"].total) == (
        1,
        Decimal("128000"),
    )
    assert (columns["proposal"].count, columns["proposal"].total) == (1, Decimal("56000"))
    page = html(signed_in(org["east_manager"]).get("/deals/"))
    assert "¥184,000.00" in page and "广州珠江电子" not in page


def test_a_deal_moves_through_the_stages_to_won(
    org: dict[str, Any], deals: dict[str, Deal]
) -> None:
    client = signed_in(org["rep_a"])
    deal = deals["a"]
    for stage in ("proposal", "negotiation", "won"):
        client.post(f"/deals/{deal.customer_id}/{deal.pk}/move/", {"stage": stage})
        deal.refresh_from_db()
        assert deal.stage == stage
    assert deal.won_at is not None
    assert Customer.objects.get(pk=deal.customer_id).stage == "won"


def test_another_rep_may_not_move_a_deal(org: dict[str, Any], deals: dict[str, Deal]) -> None:
    deal = deals["a"]
    signed_in(org["rep_b"]).post(f"/deals/{deal.customer_id}/{deal.pk}/move/", {"stage": "won"})
    deal.refresh_from_db()
    assert (deal.stage, deal.won_at) == ("qualification", None)


def test_the_amount_and_expected_close_change(org: dict[str, Any], deals: dict[str, Deal]) -> None:
    deal = deals["a"]
    data = {"name": deal.name, "amount": "150000", "expected_close": "2027-03-31"}
    signed_in(org["rep_a"]).post(f"/deals/{deal.customer_id}/{deal.pk}/edit/", data)
    deal.refresh_from_db()
    assert (deal.amount, deal.expected_close) == (Decimal("150000"), date(2027, 3, 31))


def test_a_forged_stage_in_an_edit_changes_nothing(
    org: dict[str, Any], deals: dict[str, Deal]
) -> None:
    deal = deals["a"]
    data = {"amount": "1", "stage": "won", "customer": str(deals["b"].customer_id)}
    response = signed_in(org["rep_a"]).post(
        f"/deals/{deal.customer_id}/{deal.pk}/edit/", data, HTTP_X_HIGHSEAS_ASYNC="1"
    )
    assert response.json()["code"] == "validation_error"
    deal.refresh_from_db()
    assert (deal.amount, deal.stage, deal.customer_id) == (
        Decimal("128000"),
        "qualification",
        deals["a"].customer_id,
    )


def test_another_rep_may_not_edit_a_deal(org: dict[str, Any], deals: dict[str, Deal]) -> None:
    deal = deals["a"]
    response = signed_in(org["rep_c"]).post(
        f"/deals/{deal.customer_id}/{deal.pk}/edit/", {"amount": "1"}, HTTP_X_HIGHSEAS_ASYNC="1"
    )
    assert response.json()["code"] in ("not_owner", "not_found")
    deal.refresh_from_db()
    assert deal.amount == Decimal("128000")


def test_the_api_accepts_an_intermediate_stage_and_still_won(
    org: dict[str, Any], deals: dict[str, Deal]
) -> None:
    client = APIClient()
    client.force_authenticate(org["rep_a"])
    deal = deals["a"]
    url = f"/api/v1/customers/{deal.customer_id}/deals/{deal.pk}/"
    assert (
        client.patch(url, {"stage": "negotiation"}, format="json").json()["stage"] == "negotiation"
    )
    assert client.patch(url, {"stage": "won"}, format="json").json()["stage"] == "won"
