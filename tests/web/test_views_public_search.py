"""公共检索: everyone searches every customer and sees only the configured fields and the
status; admins keep the settings in the database; another rep's customer page says who
holds it instead of a 404."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

import pytest

from highseas.accounts.models import AuditLog
from highseas.accounts.visibility import Viewer
from highseas.customers.models import Customer, PublicSearchSettings
from highseas.customers.public import public_settings
from highseas.customers.public_settings import save_public_settings
from highseas.engine.errors import ErrorCode, HighSeasError
from highseas.intake.creation import create_customer
from highseas.pools import followups
from tests.web.pages import html, signed_in

pytestmark = pytest.mark.django_db
SETTINGS = {"fields": ["name", "city"], "scope": "prospects", "statuses": ["owned", "unassigned"]}


@pytest.fixture
def south_customer(org: dict[str, Any]) -> Customer:
    fields = {
        "name": "广州珠江电子科技有限公司",
        "phone": "13800138888",
        "province": "广东",
        "city": "广州",
        "industry": "电子制造",
        "email": "hi@zhujiang.example",
    }
    return create_customer(actor=org["rep_c"], fields=fields, owner=org["rep_c"]).customer


def test_a_rep_finds_another_teams_customer_with_public_fields_only(
    org: dict[str, Any], south_customer: Customer
) -> None:
    page = html(signed_in(org["rep_a"]).get("/search/", {"q": "珠江电子"}))
    assert f'data-result="{south_customer.pk}"' in page
    assert "广州" in page and "电子制造" in page
    assert "13800138888" not in page and "hi@zhujiang.example" not in page
    assert "REP_C" not in page  # the list shows the status, not the holder


def test_the_database_settings_win_over_the_deployments(
    org: dict[str, Any], south_customer: Customer, settings: Any
) -> None:
    settings.HIGHSEAS_PUBLIC_FIELDS = ["name", "industry"]
    assert public_settings().fields == ("name", "industry")
    save_public_settings(Viewer(org["admin"]), **SETTINGS)
    assert public_settings().fields == ("name", "city")
    page = html(signed_in(org["rep_a"]).get("/search/", {"q": "珠江电子"}))
    assert "广州" in page and "电子制造" not in page


def test_prospects_only_leaves_won_customers_out(
    org: dict[str, Any], south_customer: Customer
) -> None:
    deal = followups.open_deal(org["rep_c"], south_customer.pk, amount=1000, stage="won")
    assert deal.stage == "won"
    client = signed_in(org["rep_a"])
    assert f'data-result="{south_customer.pk}"' in html(client.get("/search/", {"q": "珠江电子"}))
    save_public_settings(Viewer(org["admin"]), **SETTINGS)
    assert f'data-result="{south_customer.pk}"' not in html(
        client.get("/search/", {"q": "珠江电子"})
    )


def test_a_status_not_listed_is_not_shown(org: dict[str, Any], south_customer: Customer) -> None:
    save_public_settings(
        Viewer(org["admin"]), fields=["name"], scope="prospects_and_won", statuses=["unassigned"]
    )
    page = html(signed_in(org["rep_a"]).get("/search/", {"q": "珠江电子"}))
    assert f'data-result="{south_customer.pk}"' not in page


def test_an_admin_saves_the_settings_page_audited(org: dict[str, Any]) -> None:
    form = {
        "public_fields": ["name", "city"],
        "scope": "prospects",
        "statuses": ["owned", "unassigned"],
    }
    response = signed_in(org["admin"]).post("/console/public-search/", form)
    assert response.status_code == 302
    row = PublicSearchSettings.objects.get()
    assert (row.fields, row.scope, row.statuses) == (
        ["name", "city"],
        "prospects",
        ["unassigned", "owned"],
    )
    audit = AuditLog.objects.get(action=AuditLog.Action.POLICY_CHANGE)
    assert audit.detail["after"]["fields"] == ["name", "city"]


def test_a_private_field_is_never_offered_nor_saved(org: dict[str, Any]) -> None:
    page = html(signed_in(org["admin"]).get("/console/public-search/"))
    assert 'value="phone"' not in page and 'value="address"' not in page
    assert 'name="public_fields" value="name"' in page
    with pytest.raises(HighSeasError) as refusal:
        save_public_settings(
            Viewer(org["admin"]), fields=["name", "phone"], scope="prospects", statuses=["owned"]
        )
    assert refusal.value.code is ErrorCode.VALIDATION_ERROR
    assert not PublicSearchSettings.objects.exists()


def test_a_manager_may_not_change_the_settings(org: dict[str, Any]) -> None:
    assert (
        signed_in(org["east_manager"]).post("/console/public-search/", SETTINGS).status_code == 404
    )
    with pytest.raises(HighSeasError) as refusal:
        save_public_settings(Viewer(org["east_manager"]), **SETTINGS)
    assert refusal.value.code is ErrorCode.PERMISSION_DENIED
    assert not PublicSearchSettings.objects.exists()
    assert not AuditLog.objects.filter(action=AuditLog.Action.POLICY_CHANGE).exists()


def test_another_reps_customer_page_says_who_holds_it(
    org: dict[str, Any], south_customer: Customer
) -> None:
    page = html(signed_in(org["rep_a"]).get(f"/customers/{south_customer.pk}/"))
    assert "data-public-card" in page and "REP_C" in page and "华南销售部" in page
    assert "13800138888" not in page and "138****8888" not in page
    assert "hi@zhujiang.example" not in page and "data-edit" not in page


def test_a_merged_away_customer_is_still_a_404(
    org: dict[str, Any], south_customer: Customer
) -> None:
    Customer.objects.filter(pk=south_customer.pk).update(merged_into=south_customer)
    assert signed_in(org["rep_a"]).get(f"/customers/{south_customer.pk}/").status_code == 404


def test_the_deployment_scope_applies_until_the_settings_are_saved(
    org: dict[str, Any], settings: Any
) -> None:
    settings.HIGHSEAS_PUBLIC_SEARCH_SCOPE = "prospects"
    assert public_settings().prospects_only
    save_public_settings(
        Viewer(org["admin"]), fields=["name"], scope="prospects_and_won", statuses=["owned"]
    )
    assert not public_settings().prospects_only


def test_the_environment_names_the_default_public_fields() -> None:
    code = (
        "import highseas.config.settings as s;"
        "print(s.HIGHSEAS_PUBLIC_FIELDS, s.HIGHSEAS_PUBLIC_SEARCH_SCOPE)"
    )
    env = {
        **os.environ,
        "HIGHSEAS_PUBLIC_FIELDS": "name, city",
        "HIGHSEAS_PUBLIC_SEARCH_SCOPE": "prospects",
    }
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.stdout.strip() == "['name', 'city'] prospects"


def test_the_search_api_keeps_the_saved_scope_too(
    org: dict[str, Any], south_customer: Customer
) -> None:
    followups.open_deal(org["rep_c"], south_customer.pk, amount=1000, stage="won")
    client = signed_in(org["rep_a"])

    def found() -> list[int]:
        answer = client.get("/api/v1/search/", {"q": "珠江电子"})
        assert answer.status_code == 200
        return [row["id"] for row in answer.json()["results"]]

    assert south_customer.pk in found()
    save_public_settings(Viewer(org["admin"]), **SETTINGS)
    assert south_customer.pk not in found()
