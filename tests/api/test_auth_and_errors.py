"""Token auth and the one error shape: {"code", "detail", ...facts}."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.core.cache import cache
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from highseas.accounts.models import User

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
    assert not Token.objects.exists()


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


def test_logins_are_throttled(org: dict[str, Any], settings: Any) -> None:
    client = APIClient()
    statuses = [
        client.post(
            "/api/v1/auth/token/", {"username": "rep_a", "password": "x"}, format="json"
        ).status_code
        for _ in range(25)
    ]
    assert statuses[0] == 401
    assert statuses[-1] == 429
    last = client.post("/api/v1/auth/token/", {"username": "rep_a", "password": "x"}, format="json")
    assert last.json()["code"] == "throttled"
    assert last.json()["retry_after_seconds"] > 0


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
