"""The reveal button: shown where the role may reveal a masked field; each reveal is logged,
and a refused one shows nothing."""

from __future__ import annotations

from typing import Any

import pytest

from highseas.accounts.models import AuditLog
from highseas.customers.models import Customer
from highseas.intake.creation import create_customer
from tests.web.pages import html, signed_in

pytestmark = pytest.mark.django_db
ASYNC = {"HTTP_X_HIGHSEAS_ASYNC": "1"}


@pytest.fixture(autouse=True)
def reps_see_phones_masked(settings: Any) -> None:
    settings.HIGHSEAS_ROLE_MASKED_FIELDS = {"rep": ["phone"], "manager": ["phone"]}


@pytest.fixture
def held(org: dict[str, Any]) -> Customer:
    fields = {"name": "杭州云帆网络科技有限公司", "phone": "13800138001"}
    return create_customer(actor=org["rep_a"], fields=fields, owner=org["rep_a"]).customer


@pytest.fixture
def pooled(org: dict[str, Any]) -> Customer:
    fields = {"name": "宁波海曙精工机械有限公司", "phone": "13700137003"}
    return create_customer(actor=org["admin"], fields=fields, pool=org["east_pool"]).customer


def test_the_owner_sees_the_phone_masked_with_a_reveal_button(
    org: dict[str, Any], held: Customer
) -> None:
    page = html(signed_in(org["rep_a"]).get(f"/customers/{held.pk}/"))
    assert "138****8001" in page and "13800138001" not in page
    assert 'data-reveal-button="phone"' in page


def test_a_reveal_gives_the_value_and_is_logged(org: dict[str, Any], held: Customer) -> None:
    response = signed_in(org["rep_a"]).post(
        f"/customers/{held.pk}/reveal/", {"field": "phone"}, **ASYNC
    )
    assert response.json() == {"ok": True, "field": "phone", "value": "13800138001"}
    row = AuditLog.objects.get(action=AuditLog.Action.REVEAL)
    assert (row.actor, row.target_id, row.detail["field"]) == (
        org["rep_a"],
        str(held.pk),
        "phone",
    )


def test_the_page_without_script_shows_the_value(org: dict[str, Any], held: Customer) -> None:
    page = html(
        signed_in(org["east_manager"]).post(f"/customers/{held.pk}/reveal/", {"field": "phone"})
    )
    assert '<p class="big mono" data-revealed="phone">13800138001</p>' in page


def test_a_rep_may_not_reveal_a_pooled_customer(org: dict[str, Any], pooled: Customer) -> None:
    client = signed_in(org["rep_a"])
    assert "data-reveal-button" not in html(client.get(f"/customers/{pooled.pk}/"))
    response = client.post(f"/customers/{pooled.pk}/reveal/", {"field": "phone"}, **ASYNC)
    assert response.status_code == 409
    assert response.json()["code"] == "permission_denied"
    assert "13700137003" not in response.content.decode()
    assert not AuditLog.objects.filter(action=AuditLog.Action.REVEAL).exists()
    assert AuditLog.objects.filter(action=AuditLog.Action.PERMISSION_DENIED).count() == 1


def test_another_teams_rep_gets_no_such_customer(org: dict[str, Any], held: Customer) -> None:
    response = signed_in(org["rep_c"]).post(f"/customers/{held.pk}/reveal/", {"field": "phone"})
    assert response.status_code == 404
    assert not AuditLog.objects.filter(action=AuditLog.Action.REVEAL).exists()


def test_a_field_that_is_not_revealable_is_refused(org: dict[str, Any], held: Customer) -> None:
    response = signed_in(org["rep_a"]).post(
        f"/customers/{held.pk}/reveal/", {"field": "owner"}, **ASYNC
    )
    assert response.json()["code"] == "validation_error"
    assert not AuditLog.objects.filter(action=AuditLog.Action.REVEAL).exists()
