"""The audit log (SPEC §13): append-only, written for every action it names, readable by role."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.admin.sites import site
from django.test import Client, RequestFactory
from rest_framework.test import APIClient

from highseas.accounts import services as accounts
from highseas.accounts.audit import record_audit
from highseas.accounts.models import AuditLog, AuditLogIsAppendOnly, Role, User

Api = Callable[[User], APIClient]

pytestmark = pytest.mark.django_db


def _actions() -> list[str]:
    return list(AuditLog.objects.order_by("pk").values_list("action", flat=True))


def test_an_audit_row_cannot_be_changed(org: dict[str, Any]) -> None:
    row = record_audit(org["admin"], AuditLog.Action.EXPORT, rows=3)
    row.detail = {"rows": 0}
    with pytest.raises(AuditLogIsAppendOnly):
        row.save()
    with pytest.raises(AuditLogIsAppendOnly):
        AuditLog.objects.filter(pk=row.pk).update(detail={})
    assert AuditLog.objects.get().detail == {"rows": 3}


def test_an_audit_row_cannot_be_deleted(org: dict[str, Any]) -> None:
    row = record_audit(org["admin"], AuditLog.Action.EXPORT, rows=3)
    with pytest.raises(AuditLogIsAppendOnly):
        row.delete()
    with pytest.raises(AuditLogIsAppendOnly):
        AuditLog.objects.all().delete()
    assert AuditLog.objects.count() == 1


def test_the_admin_offers_no_add_change_or_delete(org: dict[str, Any]) -> None:
    request = RequestFactory().get("/admin/accounts/auditlog/")
    request.user = org["admin"]
    model_admin = site._registry[AuditLog]
    assert not model_admin.has_add_permission(request)
    assert not model_admin.has_change_permission(request)
    assert not model_admin.has_delete_permission(request)
    client = Client()
    client.force_login(org["admin"])
    row = record_audit(org["admin"], AuditLog.Action.EXPORT)
    listing = client.get("/admin/accounts/auditlog/").content.decode()
    assert "/admin/accounts/auditlog/add/" not in listing
    assert client.get("/admin/accounts/auditlog/add/").status_code == 403
    assert (
        client.post(f"/admin/accounts/auditlog/{row.pk}/delete/", {"post": "yes"}).status_code
        == 403
    )
    assert AuditLog.objects.filter(pk=row.pk).exists()


def test_a_policy_change_is_audited_with_before_and_after(org: dict[str, Any], api: Api) -> None:
    pool = org["east_pool"]
    response = api(org["admin"]).patch(
        f"/api/v1/pools/{pool.pk}/", {"claim_policy": {"daily_quota": 3}}, format="json"
    )
    assert response.status_code == 200, response.content
    row = AuditLog.objects.get(action=AuditLog.Action.POLICY_CHANGE)
    assert (row.actor, row.target_type, row.target_id) == (org["admin"], "pool", str(pool.pk))
    assert row.detail["before"]["claim_policy"]["daily_quota"] is None
    assert row.detail["after"]["claim_policy"]["daily_quota"] == 3


def test_a_refused_policy_change_is_a_denial_not_a_change(org: dict[str, Any], api: Api) -> None:
    pool = org["east_pool"]
    response = api(org["rep_a"]).patch(
        f"/api/v1/pools/{pool.pk}/", {"claim_policy": {"daily_quota": 3}}, format="json"
    )
    assert response.status_code in (403, 404)
    assert AuditLog.Action.POLICY_CHANGE not in _actions()


def test_a_permission_denial_is_audited_with_path_and_address(
    org: dict[str, Any], api: Api
) -> None:
    response = api(org["rep_a"]).post("/api/v1/teams/", {"name": "私设团队"}, format="json")
    assert response.status_code == 403
    row = AuditLog.objects.get()
    assert (row.actor, row.action, row.address) == (org["rep_a"], "permission_denied", "127.0.0.1")
    assert row.detail["path"] == "/api/v1/teams/"


def test_a_web_403_is_audited_and_logged_as_one_line(
    org: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    client = Client()
    client.force_login(org["rep_a"])
    with caplog.at_level(logging.INFO):
        response = client.get("/console/")
    assert response.status_code == 403
    assert _actions() == ["permission_denied"]
    assert not any(r.exc_info for r in caplog.records)
    lines = [r.getMessage() for r in caplog.records if "permission_denied" in r.getMessage()]
    assert lines == ["refused permission_denied GET /console/ user=rep_a"]


def test_role_password_and_deactivation_are_audited(org: dict[str, Any], api: Api) -> None:
    client, rep = api(org["admin"]), org["rep_a"]
    for change in ({"role": Role.MANAGER}, {"password": "a-new-secret-42"}, {"is_active": False}):
        assert client.patch(f"/api/v1/users/{rep.pk}/", change, format="json").status_code == 200
    rows = AuditLog.objects.exclude(action=AuditLog.Action.TOKEN_REVOKE).order_by("pk")
    assert [(r.action, r.actor, r.target_id) for r in rows] == [
        ("role_change", org["admin"], str(rep.pk)),
        ("password_change", org["admin"], str(rep.pk)),
        ("user_deactivated", org["admin"], str(rep.pk)),
    ]
    assert rows[0].detail == {"before": "rep", "after": "manager"}


def _audit(client: APIClient, query: str = "") -> Any:
    return client.get(f"/api/v1/audit-log/{query}")


def _seed(org: dict[str, Any]) -> dict[str, AuditLog]:
    return {
        key: record_audit(org[key], AuditLog.Action.EXPORT, target_type="export", target_id=i)
        for i, key in enumerate(["admin", "east_manager", "rep_a", "rep_c"], start=1)
    }


def test_an_admin_reads_every_row_newest_first(org: dict[str, Any], api: Api) -> None:
    seeded = _seed(org)
    body = _audit(api(org["admin"])).json()
    assert [r["id"] for r in body["results"]] == [r.pk for r in reversed(seeded.values())]
    first = body["results"][0]
    assert set(first) == {"id", "at", "actor", "action", "target", "detail", "address"}
    assert first["actor"]["username"] == "rep_c"
    assert first["target"] == {"type": "export", "id": "4"}
    assert "next" in body


def test_a_manager_reads_the_rows_of_their_subtree(org: dict[str, Any], api: Api) -> None:
    seeded = _seed(org)
    rows = _audit(api(org["east_manager"])).json()["results"]
    assert sorted(r["id"] for r in rows) == [seeded["east_manager"].pk, seeded["rep_a"].pk]


def test_a_rep_may_not_read_the_audit_log(org: dict[str, Any], api: Api) -> None:
    response = _audit(api(org["rep_a"]))
    assert (response.status_code, response.json()["code"]) == (403, "permission_denied")


def test_the_audit_log_filters_by_action_actor_and_since(org: dict[str, Any], api: Api) -> None:
    seeded = _seed(org)
    reveal = record_audit(org["rep_a"], AuditLog.Action.REVEAL)
    client = api(org["admin"])
    by_action = _audit(client, "?action=reveal").json()["results"]
    assert [r["id"] for r in by_action] == [reveal.pk]
    by_actor = _audit(client, f"?actor={org['rep_a'].pk}").json()["results"]
    assert [r["id"] for r in by_actor] == [reveal.pk, seeded["rep_a"].pk]
    by_name = _audit(client, "?actor=rep_a").json()["results"]
    assert [r["id"] for r in by_name] == [reveal.pk, seeded["rep_a"].pk]
    assert _audit(client, "?since=2999-01-01").json()["results"] == []
    assert len(_audit(client, "?since=2000-01-01T00:00:00Z").json()["results"]) == 5


@pytest.mark.parametrize("query", ["?action=nonsense", "?since=2026-02-30", "?since=yesterday"])
def test_an_unreadable_filter_is_a_validation_error(
    org: dict[str, Any], api: Api, query: str
) -> None:
    response = _audit(api(org["admin"]), query)
    assert (response.status_code, response.json()["code"]) == (400, "validation_error")


def test_the_audit_log_pages_by_keyset(org: dict[str, Any], api: Api) -> None:
    for i in range(5):
        record_audit(org["admin"], AuditLog.Action.EXPORT, target_type="export", target_id=i)
    client = api(org["admin"])
    first = _audit(client, "?page_size=2").json()
    second = client.get(first["next"]).json()
    assert len(first["results"]) == len(second["results"]) == 2
    assert first["results"][-1]["id"] > second["results"][0]["id"]


def test_a_user_can_be_changed_without_touching_the_audit_rows(org: dict[str, Any]) -> None:
    record_audit(org["rep_a"], AuditLog.Action.EXPORT)
    accounts.update_user(org["rep_a"], display_name="甲")
    assert AuditLog.objects.get().actor == org["rep_a"]
