"""Token auth and the one error shape: {"code", "detail", ...facts}."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.core.cache import cache
from django.db import OperationalError, connection
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from highseas.accounts.models import ApiToken, AuditLog, Role, User
from tests.admin_forms import deactivate_in_admin

Api = Callable[[User], APIClient]

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_throttle() -> None:
    cache.clear()


def test_a_token_is_issued_for_good_credentials(org: dict[str, Any]) -> None:
    response = APIClient().post(
        "/api/v1/auth/token/", {"username": "rep_a", "password": "pw-rep_a"}, format="json"
    )
    assert response.status_code == 200
    token = response.json()["token"]
    me = APIClient(HTTP_AUTHORIZATION=f"Token {token}").get("/api/v1/me/")
    assert me.status_code == 200
    assert me.json()["username"] == "rep_a"


def test_bad_credentials_get_not_authenticated(org: dict[str, Any]) -> None:
    response = APIClient().post(
        "/api/v1/auth/token/", {"username": "rep_a", "password": "wrong"}, format="json"
    )
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"
    assert not ApiToken.objects.exists()


def test_a_missing_password_is_a_validation_error(org: dict[str, Any]) -> None:
    response = APIClient().post("/api/v1/auth/token/", {"username": "rep_a"}, format="json")
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "validation_error"
    assert "password" in body["errors"]


def test_an_anonymous_request_is_refused_with_the_stable_shape() -> None:
    response = APIClient().get("/api/v1/customers/")
    assert response.status_code == 401
    assert set(response.json()) == {"code", "detail"}
    assert response.json()["code"] == "not_authenticated"


def test_a_revoked_token_stops_working(
    org: dict[str, Any], api: Callable[[User], APIClient]
) -> None:
    client = api(org["rep_a"])
    assert client.delete("/api/v1/auth/token/").status_code == 204
    assert client.get("/api/v1/me/").json()["code"] == "not_authenticated"


def _login(username: str, password: str, **extra: Any) -> Any:
    return APIClient().post(
        "/api/v1/auth/token/", {"username": username, "password": password, **extra}, format="json"
    )


def _raw_database_text() -> str:
    """Every row of every table, as text: what someone holding the database file reads."""
    chunks = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            try:
                cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")
            except OperationalError as error:
                # A contentless full-text index keeps no rows of its own: what it stores lies
                # in its shadow tables, which are read like any other.
                if "does not support scanning" in str(error):
                    continue
                raise
            chunks.extend(repr(row) for row in cursor.fetchall())
    return "\n".join(chunks)


def test_a_token_is_stored_only_as_a_hash(org: dict[str, Any]) -> None:
    token = _login("rep_a", "pw-rep_a").json()["token"]
    assert len(token) >= 40
    assert token not in _raw_database_text()


def test_a_token_carries_its_expiry_and_stops_working_after_it(
    org: dict[str, Any], settings: Any
) -> None:
    body = _login("rep_a", "pw-rep_a").json()
    client = APIClient(HTTP_AUTHORIZATION=f"Token {body['token']}")
    assert client.get("/api/v1/me/").status_code == 200
    row = ApiToken.objects.get(pk=body["id"])
    assert row.expiry is not None
    assert timedelta(hours=719) < row.expiry - timezone.now() <= timedelta(hours=720)
    ApiToken.objects.filter(pk=row.pk).update(expiry=timezone.now() - timedelta(seconds=1))
    assert client.get("/api/v1/me/").json()["code"] == "not_authenticated"


def test_each_login_issues_a_new_token_for_its_device(org: dict[str, Any]) -> None:
    laptop = _login("rep_a", "pw-rep_a", device="laptop").json()
    phone = _login("rep_a", "pw-rep_a", device="phone").json()
    assert laptop["token"] != phone["token"]
    client = APIClient(HTTP_AUTHORIZATION=f"Token {phone['token']}")
    devices = client.get("/api/v1/auth/tokens/").json()["results"]
    assert sorted(d["device"] for d in devices) == ["laptop", "phone"]
    assert all(set(d) == {"id", "device", "created", "expiry", "last_used"} for d in devices)
    assert laptop["token"] not in str(devices) and phone["token"] not in str(devices)


def test_one_device_is_revoked_and_the_others_keep_working(org: dict[str, Any]) -> None:
    laptop = _login("rep_a", "pw-rep_a", device="laptop").json()
    phone = _login("rep_a", "pw-rep_a", device="phone").json()
    client = APIClient(HTTP_AUTHORIZATION=f"Token {phone['token']}")
    assert client.delete(f"/api/v1/auth/tokens/{laptop['id']}/").status_code == 204
    assert (
        APIClient(HTTP_AUTHORIZATION=f"Token {laptop['token']}").get("/api/v1/me/").status_code
        == 401
    )
    assert client.get("/api/v1/me/").status_code == 200


def test_nobody_revokes_another_users_device(org: dict[str, Any], api: Api) -> None:
    theirs = _login("rep_b", "pw-rep_b").json()
    response = api(org["rep_a"]).delete(f"/api/v1/auth/tokens/{theirs['id']}/")
    assert response.status_code == 404
    assert ApiToken.objects.filter(pk=theirs["id"]).exists()


def test_signing_out_revokes_only_the_calling_token(org: dict[str, Any]) -> None:
    laptop = _login("rep_a", "pw-rep_a").json()
    phone = _login("rep_a", "pw-rep_a").json()
    assert (
        APIClient(HTTP_AUTHORIZATION=f"Token {laptop['token']}")
        .delete("/api/v1/auth/token/")
        .status_code
        == 204
    )
    assert list(ApiToken.objects.values_list("pk", flat=True)) == [phone["id"]]


@pytest.mark.parametrize(
    "change",
    [{"password": "a-new-secret-42"}, {"role": Role.MANAGER}, {"is_active": False}],
    ids=["password", "role", "deactivation"],
)
def test_every_token_of_a_user_is_revoked_when_the_account_changes(
    org: dict[str, Any], api: Api, change: dict[str, Any]
) -> None:
    token = _login("rep_a", "pw-rep_a").json()["token"]
    answer = api(org["admin"]).patch(f"/api/v1/users/{org['rep_a'].pk}/", change, format="json")
    assert answer.status_code == 200
    assert not ApiToken.objects.filter(user=org["rep_a"]).exists()
    assert APIClient(HTTP_AUTHORIZATION=f"Token {token}").get("/api/v1/me/").status_code == 401


def test_a_display_name_change_keeps_the_tokens(org: dict[str, Any], api: Api) -> None:
    _login("rep_a", "pw-rep_a")
    api(org["admin"]).patch(
        f"/api/v1/users/{org['rep_a'].pk}/", {"display_name": "A"}, format="json"
    )
    assert ApiToken.objects.filter(user=org["rep_a"]).count() == 1


def test_thirty_colleagues_behind_one_address_all_sign_in_within_a_minute(
    make_user: Callable[..., User],
) -> None:
    names = [make_user(Role.REP, f"colleague{i}").username for i in range(30)]
    statuses = [_login(name, f"pw-{name}").status_code for name in names]
    assert statuses == [200] * 30


def test_a_guesser_of_one_username_is_locked_out_after_five_failures(
    org: dict[str, Any],
) -> None:
    statuses = [_login("rep_a", f"guess{i}").status_code for i in range(5)]
    assert statuses == [401] * 4 + [429]  # the fifth failure locks, and says so
    locked = _login("rep_a", "pw-rep_a")
    assert locked.status_code == 429
    assert locked.json()["code"] == "login_locked"
    assert locked.json()["retry_after_seconds"] > 0
    assert "token" not in locked.json()
    assert _login("rep_b", "pw-rep_b").status_code == 200


def test_a_username_sprayer_is_locked_out_by_address(org: dict[str, Any]) -> None:
    statuses = [_login(f"someone{i}", "123456").status_code for i in range(30)]
    assert statuses == [401] * 29 + [429]
    assert _login("rep_a", "pw-rep_a").json()["code"] == "login_locked"
    elsewhere = APIClient(REMOTE_ADDR="10.1.2.3").post(
        "/api/v1/auth/token/", {"username": "rep_b", "password": "pw-rep_b"}, format="json"
    )
    assert elsewhere.status_code == 200


def test_a_success_does_not_reset_the_address_count(make_user: Callable[..., User]) -> None:
    insider = make_user(Role.REP, "insider")
    for i in range(29):
        _login(f"someone{i}", "123456")
    assert _login(insider.username, "pw-insider").status_code == 200
    assert _login("someone-else", "123456").json()["code"] == "login_locked"


def test_failed_logins_and_the_lockout_are_audited_with_the_address(org: dict[str, Any]) -> None:
    for i in range(6):
        _login("rep_a", f"guess{i}")
    rows = AuditLog.objects.order_by("pk")
    failed = rows.filter(action=AuditLog.Action.LOGIN_FAILED)
    assert failed.count() == 6
    assert {r.detail["username"] for r in failed} == {"rep_a"}
    assert {r.address for r in rows} == {"127.0.0.1"}
    locked = rows.filter(action=AuditLog.Action.LOGIN_LOCKED)
    assert locked.count() == 2  # the fifth failure locks; the sixth attempt is refused
    assert {r.target_id for r in locked} == {str(org["rep_a"].pk)}


def test_the_admin_login_is_throttled_too(org: dict[str, Any]) -> None:
    client = Client()
    for i in range(5):
        client.post("/admin/login/", {"username": "boss", "password": f"guess{i}"})
    page = client.post("/admin/login/", {"username": "boss", "password": "pw-boss"})
    assert "_auth_user_id" not in client.session
    assert "登录失败次数过多" in page.content.decode()


def test_the_web_login_and_the_api_share_one_count(org: dict[str, Any]) -> None:
    client = Client()
    for i in range(5):
        client.post("/login/", {"username": "rep_a", "password": f"guess{i}"})
    assert _login("rep_a", "pw-rep_a").json()["code"] == "login_locked"


def test_issuing_and_revoking_tokens_is_audited(org: dict[str, Any]) -> None:
    body = _login("rep_a", "pw-rep_a", device="laptop").json()
    APIClient(HTTP_AUTHORIZATION=f"Token {body['token']}").delete("/api/v1/auth/token/")
    rows = list(AuditLog.objects.order_by("pk").values_list("action", "actor", "target_id"))
    assert rows == [
        (AuditLog.Action.TOKEN_ISSUE, org["rep_a"].pk, str(body["id"])),
        (AuditLog.Action.TOKEN_REVOKE, org["rep_a"].pk, str(body["id"])),
    ]


def test_an_expected_refusal_is_logged_as_one_line(
    org: dict[str, Any], api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO):
        response = api(org["rep_a"]).post("/api/v1/teams/", {"name": "x"}, format="json")
    assert response.status_code == 403
    refusals = [r for r in caplog.records if "permission_denied" in r.getMessage()]
    assert len(refusals) == 1
    assert refusals[0].exc_info is None
    assert "/api/v1/teams/" in refusals[0].getMessage()
    assert "rep_a" in refusals[0].getMessage()
    assert not any(r.exc_info for r in caplog.records)


def test_unknown_customer_is_not_found(
    org: dict[str, Any], api: Callable[[User], APIClient]
) -> None:
    for path in ("/api/v1/customers/999999/", "/api/v1/customers/abc/"):
        response = api(org["admin"]).get(path)
        assert response.status_code == 404
        assert response.json()["code"] == "not_found"


def test_a_wrong_method_is_method_not_allowed(
    org: dict[str, Any], api: Callable[[User], APIClient]
) -> None:
    response = api(org["admin"]).delete("/api/v1/pools/1/")
    assert response.status_code == 405
    assert response.json()["code"] == "method_not_allowed"


def test_malformed_json_is_a_validation_error(
    org: dict[str, Any], api: Callable[[User], APIClient]
) -> None:
    response = api(org["admin"]).post(
        "/api/v1/customers/", "{not json", content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"


def test_the_schema_and_the_docs_are_served_without_a_cdn(client: Any) -> None:
    schema = client.get("/api/schema/")
    assert schema.status_code == 200
    assert b"/api/v1/customers/" in schema.content
    docs = client.get("/api/docs/").content.decode()
    assert "swagger-ui" in docs
    assert "http://" not in docs.replace("http://testserver", "")
    assert "https://" not in docs


def test_error_details_follow_the_requested_language(org: dict[str, Any], api: Api) -> None:
    client = api(org["admin"])
    chinese = client.get("/api/v1/customers/999999/").json()["detail"]
    english = client.get("/api/v1/customers/999999/", HTTP_ACCEPT_LANGUAGE="en").json()["detail"]
    assert (chinese, english) == ("客户不存在。", "No such customer.")


def test_the_openapi_schema_generates_without_warnings(tmp_path: Any) -> None:
    from django.core.management import call_command

    call_command("spectacular", "--fail-on-warn", "--file", str(tmp_path / "schema.yml"))
    assert "/api/v1/customers/{id}/claim/" in (tmp_path / "schema.yml").read_text()


def test_a_password_set_in_the_admin_revokes_the_tokens_and_is_audited(
    org: dict[str, Any],
) -> None:
    token = _login("rep_a", "pw-rep_a").json()["token"]
    client = Client()
    client.force_login(org["admin"])
    response = client.post(
        f"/admin/accounts/user/{org['rep_a'].pk}/password/",
        {"password1": "Another-secret-42", "password2": "Another-secret-42"},
    )
    assert response.status_code == 302
    assert APIClient(HTTP_AUTHORIZATION=f"Token {token}").get("/api/v1/me/").status_code == 401
    row = AuditLog.objects.get(action=AuditLog.Action.PASSWORD_CHANGE)
    assert (row.actor, row.target_id) == (org["admin"], str(org["rep_a"].pk))


def test_a_deactivation_in_the_admin_revokes_the_tokens_and_is_audited(
    org: dict[str, Any],
) -> None:
    token = _login("rep_a", "pw-rep_a").json()["token"]
    response = deactivate_in_admin(org["admin"], org["rep_a"])
    assert response.status_code == 302, response.context["adminform"].form.errors
    assert APIClient(HTTP_AUTHORIZATION=f"Token {token}").get("/api/v1/me/").status_code == 401
    row = AuditLog.objects.get(action=AuditLog.Action.USER_DEACTIVATED)
    assert row.actor == org["admin"]
