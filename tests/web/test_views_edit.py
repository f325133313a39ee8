"""The customer and contact edit pages: the form offers what the viewer may change, and a
forged post is refused by the one edit door with nothing changed."""

from __future__ import annotations

from typing import Any

import pytest

from highseas.accounts.models import AuditLog
from highseas.customers.models import Contact, Customer
from highseas.intake.creation import create_customer
from highseas.pools import followups
from tests.web.pages import html, signed_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def held(org: dict[str, Any]) -> Customer:
    fields = {
        "name": "杭州云帆网络科技有限公司",
        "phone": "13800138001",
        "level": "B",
        "province": "浙江",
        "city": "杭州",
        "kind": "company",
    }
    return create_customer(actor=org["rep_a"], fields=fields, owner=org["rep_a"]).customer


def _form(customer: Customer, **changes: Any) -> dict[str, Any]:
    data = {
        "name": customer.name,
        "kind": customer.kind,
        "phone": "13800138001",
        "email": "",
        "credit_code": "",
        "industry": "",
        "province": customer.province,
        "city": customer.city,
        "address": "",
        "employees": "",
        "revenue_band": "",
        "source": customer.source,
        "campaign": "",
    }
    return {**data, **changes}


def test_a_rep_is_offered_neither_owner_nor_level(org: dict[str, Any], held: Customer) -> None:
    page = html(signed_in(org["rep_a"]).get(f"/customers/{held.pk}/edit/"))
    assert 'name="name"' in page and 'name="phone"' in page
    for absent in ('name="owner"', 'name="pool"', 'name="level"', 'name="stage"'):
        assert absent not in page


def test_a_manager_is_offered_level_and_stage(org: dict[str, Any], held: Customer) -> None:
    page = html(signed_in(org["east_manager"]).get(f"/customers/{held.pk}/edit/"))
    assert 'name="level"' in page and 'name="stage"' in page and 'name="owner"' not in page


def test_a_rep_saves_a_business_field(org: dict[str, Any], held: Customer) -> None:
    response = signed_in(org["rep_a"]).post(
        f"/customers/{held.pk}/edit/", _form(held, industry="软件和信息技术服务")
    )
    assert response.status_code == 302
    held.refresh_from_db()
    assert held.industry == "软件和信息技术服务"


def test_a_forged_owner_is_refused_and_changes_nothing(org: dict[str, Any], held: Customer) -> None:
    data = _form(held, industry="制造业", owner=str(org["rep_b"].pk))
    response = signed_in(org["rep_a"]).post(f"/customers/{held.pk}/edit/", data)
    assert response.status_code == 400
    assert 'data-refusal="validation_error"' in response.content.decode()
    assert response.context["form"].non_field_errors()[0].endswith("(owner)")
    held.refresh_from_db()
    assert (held.owner, held.industry) == (org["rep_a"], "")


def test_a_forged_level_from_a_rep_is_refused(org: dict[str, Any], held: Customer) -> None:
    data = _form(held, industry="制造业", level="A")
    response = signed_in(org["rep_a"]).post(f"/customers/{held.pk}/edit/", data)
    assert response.status_code == 400
    assert 'data-refusal="permission_denied"' in response.content.decode()
    held.refresh_from_db()
    assert (held.level, held.industry) == ("B", "")
    assert not AuditLog.objects.filter(action=AuditLog.Action.CUSTOMER_EDIT).exists()


def test_a_manager_changes_the_level_audited(org: dict[str, Any], held: Customer) -> None:
    data = _form(held, level="A", stage=held.stage)
    response = signed_in(org["east_manager"]).post(f"/customers/{held.pk}/edit/", data)
    assert response.status_code == 302
    held.refresh_from_db()
    assert held.level == "A"
    row = AuditLog.objects.get(action=AuditLog.Action.CUSTOMER_EDIT)
    assert (row.actor, row.detail) == (
        org["east_manager"],
        {"field": "level", "before": "B", "after": "A"},
    )


def test_a_bad_phone_is_refused_under_its_field(org: dict[str, Any], held: Customer) -> None:
    response = signed_in(org["rep_a"]).post(
        f"/customers/{held.pk}/edit/", _form(held, phone="abc-123")
    )
    assert response.status_code == 400
    assert response.context["form"].errors["phone"] == ["not a phone number"]
    held.refresh_from_db()
    assert held.phone == "13800138001"


def test_another_rep_may_not_edit(org: dict[str, Any], held: Customer) -> None:
    response = signed_in(org["rep_b"]).post(
        f"/customers/{held.pk}/edit/", _form(held, industry="x")
    )
    assert response.status_code == 404
    held.refresh_from_db()
    assert held.industry == ""


def _contact(org: dict[str, Any], held: Customer) -> Contact:
    return followups.add_contact(org["rep_a"], held.pk, name="王经理", phones=["13900139000"])


def test_the_owner_edits_a_contact(org: dict[str, Any], held: Customer) -> None:
    contact = _contact(org, held)
    data = {
        "name": "王建国",
        "title": "采购经理",
        "phones": "13900139000, 0571-88886666",
        "email": "wang@example.com",
        "wechat": "",
        "birthday": "",
    }
    response = signed_in(org["rep_a"]).post(
        f"/customers/{held.pk}/contacts/{contact.pk}/edit/", data
    )
    assert response.status_code == 302
    contact.refresh_from_db()
    assert (contact.name, contact.title, contact.phones) == (
        "王建国",
        "采购经理",
        ["13900139000", "0571-88886666"],
    )


def test_a_contact_is_not_moved_to_another_customer(org: dict[str, Any], held: Customer) -> None:
    contact = _contact(org, held)
    other = create_customer(
        actor=org["rep_a"], fields={"name": "宁波海曙精工机械有限公司"}, owner=org["rep_a"]
    ).customer
    data = {"name": "王经理", "phones": "13900139000", "customer": str(other.pk)}
    response = signed_in(org["rep_a"]).post(
        f"/customers/{held.pk}/contacts/{contact.pk}/edit/", data
    )
    assert response.status_code == 400
    contact.refresh_from_db()
    assert contact.customer_id == held.pk


def test_a_bad_contact_phone_is_refused(org: dict[str, Any], held: Customer) -> None:
    contact = _contact(org, held)
    data = {"name": "王经理", "phones": "abc-123"}
    response = signed_in(org["rep_a"]).post(
        f"/customers/{held.pk}/contacts/{contact.pk}/edit/", data
    )
    assert response.status_code == 400
    contact.refresh_from_db()
    assert contact.phones == ["13900139000"]


def test_another_rep_may_not_edit_a_contact(org: dict[str, Any], held: Customer) -> None:
    contact = _contact(org, held)
    data = {"name": "改名"}
    response = signed_in(org["rep_c"]).post(
        f"/customers/{held.pk}/contacts/{contact.pk}/edit/", data
    )
    assert response.status_code == 404
    contact.refresh_from_db()
    assert contact.name == "王经理"


def test_a_field_the_viewer_sees_masked_is_not_on_the_form(
    org: dict[str, Any], held: Customer, settings: Any
) -> None:
    settings.HIGHSEAS_ROLE_MASKED_FIELDS = {"rep": ["phone"]}
    page = html(signed_in(org["rep_a"]).get(f"/customers/{held.pk}/edit/"))
    assert 'name="phone"' not in page and "13800138001" not in page
    contact = _contact(org, held)
    page = html(signed_in(org["rep_a"]).get(f"/customers/{held.pk}/contacts/{contact.pk}/edit/"))
    assert 'name="phones"' not in page and "13900139000" not in page


def test_a_forged_masked_contact_field_is_refused(
    org: dict[str, Any], held: Customer, settings: Any
) -> None:
    settings.HIGHSEAS_ROLE_MASKED_FIELDS = {"rep": ["phone"]}
    contact = _contact(org, held)
    data = {"name": "王经理", "phones": "13700137000"}
    response = signed_in(org["rep_a"]).post(
        f"/customers/{held.pk}/contacts/{contact.pk}/edit/", data
    )
    assert response.status_code == 400
    assert 'data-refusal="permission_denied"' in response.content.decode()
    contact.refresh_from_db()
    assert contact.phones == ["13900139000"]
