"""The token lane (``config/wsgi.py``): an API request with a ``Token`` header skips the
sessions, CSRF, messages and static-file middleware, and is answered exactly as the full
handler answers it; every other request takes the full handler, and a session's API call
still needs its CSRF token."""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterable
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone
from rest_framework.parsers import JSONParser
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from highseas.accounts.models import ApiToken, AuditLog, User
from highseas.accounts.tokens import issue_token
from highseas.api.serializers.ownership import ClaimInput
from highseas.api.views.ownership import _claim_input
from highseas.config import wsgi
from highseas.customers.models import Customer
from tests.wsgi import environ

App = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
SECURITY_HEADERS = (
    "X-Frame-Options",
    "X-Content-Type-Options",
    "Referrer-Policy",
    "Cross-Origin-Opener-Policy",
)


def served(app: App, request: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
    """Status, headers and body of one request through ``app``, closed as a server closes it."""
    started: list[tuple[str, list[tuple[str, str]]]] = []
    answer = app(request, lambda status, headers, exc_info=None: started.append((status, headers)))
    try:
        body = b"".join(answer)
    finally:
        answer.close()  # type: ignore[attr-defined]
    status, headers = started[0]
    return int(status[:3]), dict(headers), body


def _token(user: User) -> str:
    row, secret = issue_token(user, device="tests", audited=False)
    ApiToken.objects.filter(pk=row.pk).update(last_used=timezone.now())  # no last-use write
    return secret


def _session_cookie(user: User) -> str:
    client = Client()
    client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}"


def test_only_token_calls_to_the_api_take_the_lane() -> None:
    token = {"HTTP_AUTHORIZATION": "Token abc"}
    assert wsgi.in_token_lane({"PATH_INFO": "/api/v1/customers/1/claim/", **token})
    assert wsgi.in_token_lane({"PATH_INFO": "/api/v1/me/", **token})
    assert not wsgi.in_token_lane({"PATH_INFO": "/api/v1/auth/token/", **token})
    assert not wsgi.in_token_lane({"PATH_INFO": "/api/v1/auth/tokens/", **token})
    assert not wsgi.in_token_lane({"PATH_INFO": "/api/schema/", **token})
    assert not wsgi.in_token_lane({"PATH_INFO": "/customers/", **token})
    assert not wsgi.in_token_lane({"PATH_INFO": "/api/v1/me/"})
    assert not wsgi.in_token_lane({"PATH_INFO": "/api/v1/me/", "HTTP_AUTHORIZATION": "Basic x"})


def test_the_lane_leaves_out_only_the_middleware_a_token_call_never_needs() -> None:
    def chain(handler: Any) -> list[str]:
        """The classes of the middleware a request passes, outermost first (each is wrapped
        by Django's exception converter, which holds it in its closure)."""
        names, layer = [], handler._middleware_chain
        while True:
            held = [cell.cell_contents for cell in layer.__closure__ or ()]
            found = next((m for m in held if hasattr(m, "get_response")), None)
            if found is None:
                return names
            names.append(f"{type(found).__module__}.{type(found).__name__}")
            layer = found.get_response

    full = chain(wsgi.application_for_everything)
    lane = chain(wsgi.token_lane)
    assert set(full) - set(lane) == wsgi.TOKEN_LANE_SKIPS
    assert [name for name in full if name not in wsgi.TOKEN_LANE_SKIPS] == lane
    assert "django.middleware.security.SecurityMiddleware" in lane
    assert "django.middleware.clickjacking.XFrameOptionsMiddleware" in lane
    assert "django.middleware.locale.LocaleMiddleware" in lane


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/api/v1/me/", b""),
        ("GET", "/api/v1/customers/1/claim/", b""),  # 405
        ("POST", "/api/v1/customers/x/claim/", b"{}"),  # 404, no pattern
        ("POST", "/api/v1/customers/999999/claim/", b"{}"),  # 404 from the service
        ("POST", "/api/v1/users/", b'{"username": "x", "password": "Str0ng-pass!"}'),  # 403
        ("POST", "/api/v1/customers/1/claim/", b"[1, 2]"),  # 400
    ],
)
def test_a_token_call_is_answered_as_the_full_handler_answers_it(
    org: dict[str, Any], method: str, path: str, body: bytes
) -> None:
    token = _token(org["rep_a"])
    request = environ(method, path, token, body)
    request["HTTP_ACCEPT_LANGUAGE"] = "en"
    full = served(wsgi.application_for_everything, request | {"wsgi.input": _body(body)})
    lane = served(wsgi.application, request | {"wsgi.input": _body(body)})
    assert lane == full
    assert all(name in lane[1] for name in SECURITY_HEADERS)
    assert "Set-Cookie" not in lane[1]


def _body(raw: bytes) -> io.BytesIO:
    return io.BytesIO(raw)


@pytest.mark.django_db(transaction=True)
def test_a_claim_in_the_lane_answers_as_the_full_handler(
    org: dict[str, Any], make_customer: Callable[..., Customer]
) -> None:
    """Two customers alike, one claimed through each handler: the same status, headers and
    fields; the refusal of a second claim is the same too."""
    first, second = (make_customer(org["admin"], pool=org["east_pool"]) for _ in range(2))
    token_a, token_b = _token(org["rep_a"]), _token(org["rep_b"])
    answers = {}
    for app, customer in ((wsgi.application_for_everything, first), (wsgi.application, second)):
        path = f"/api/v1/customers/{customer.pk}/claim/"
        won = served(app, environ("POST", path, token_a, b"{}"))
        refused = served(app, environ("POST", path, token_b, b"{}"))
        answers[app] = (won, refused)
    (full_won, full_refused), (lane_won, lane_refused) = answers.values()
    assert lane_won[0] == full_won[0] == 200
    assert _without_length(lane_won[1]) == _without_length(full_won[1])
    lane_body, full_body = json.loads(lane_won[2]), json.loads(full_won[2])
    assert list(lane_body) == list(full_body)
    assert lane_body["owner"] == full_body["owner"] and lane_body["id"] == second.pk
    assert lane_refused[0] == full_refused[0] == 409
    assert json.loads(lane_refused[2])["code"] == json.loads(full_refused[2])["code"]
    assert Customer.objects.get(pk=second.pk).owner_id == org["rep_a"].pk


def _without_length(headers: dict[str, str]) -> dict[str, str]:
    return {name: value for name, value in headers.items() if name != "Content-Length"}


@pytest.mark.django_db(transaction=True)
def test_an_expired_or_revoked_token_is_refused_in_the_lane_even_beside_a_session(
    org: dict[str, Any], make_customer: Callable[..., Customer]
) -> None:
    """A token header is decided by the token alone: a valid session cookie of another user
    beside it does not sign the request in."""
    customer = make_customer(org["admin"], pool=org["east_pool"])
    row, secret = issue_token(org["rep_a"], device="tests", audited=False)
    cookie = _session_cookie(org["rep_b"])
    path = f"/api/v1/customers/{customer.pk}/claim/"

    ApiToken.objects.filter(pk=row.pk).update(expiry=timezone.now() - timedelta(seconds=1))
    request = environ("POST", path, secret, b"{}") | {"HTTP_COOKIE": cookie}
    expired = served(wsgi.application, request)
    assert expired[0] == 401 and json.loads(expired[2])["code"] == "not_authenticated"

    other, other_secret = issue_token(org["rep_a"], device="tests", audited=False)
    other.delete()  # revoked
    request = environ("POST", path, other_secret, b"{}") | {"HTTP_COOKIE": cookie}
    revoked = served(wsgi.application, request)
    assert revoked[0] == 401 and json.loads(revoked[2])["code"] == "not_authenticated"
    assert Customer.objects.get(pk=customer.pk).owner_id is None


@pytest.mark.django_db(transaction=True)
def test_a_session_call_to_the_api_still_needs_its_csrf_token(
    org: dict[str, Any], make_customer: Callable[..., Customer]
) -> None:
    customer = make_customer(org["admin"], pool=org["east_pool"])
    request = environ("POST", f"/api/v1/customers/{customer.pk}/claim/", "", b"{}")
    del request["HTTP_AUTHORIZATION"]
    request["HTTP_COOKIE"] = _session_cookie(org["rep_a"])
    assert not wsgi.in_token_lane(request)
    status, _headers, body = served(wsgi.application, request)
    assert status == 403 and json.loads(body)["code"] == "permission_denied"
    assert Customer.objects.get(pk=customer.pk).owner_id is None


@pytest.mark.django_db(transaction=True)
def test_a_wrong_role_in_the_lane_is_refused_with_its_audit_row(org: dict[str, Any]) -> None:
    """A rep creating a user: 403, nothing created, and the denial's audit row names the rep
    (the refusal reads the user DRF set from the token; no session middleware ran)."""
    request = environ(
        "POST", "/api/v1/users/", _token(org["rep_a"]), b'{"username": "x", "password": "S!1x"}'
    )
    assert wsgi.in_token_lane(request)
    status, _headers, body = served(wsgi.application, request)
    assert status == 403 and json.loads(body)["code"] == "permission_denied"
    assert not User.objects.filter(username="x").exists()
    denial = AuditLog.objects.get(action=AuditLog.Action.PERMISSION_DENIED)
    assert denial.actor_id == org["rep_a"].pk


@pytest.mark.django_db(transaction=True)
def test_a_claim_sending_fields_that_must_not_change_claims_for_the_caller_only(
    org: dict[str, Any], make_customer: Callable[..., Customer]
) -> None:
    customer = make_customer(org["admin"], pool=org["east_pool"])
    body = json.dumps({"owner": org["rep_b"].pk, "status": "won", "pool": None}).encode()
    path = f"/api/v1/customers/{customer.pk}/claim/"
    status, _headers, answer = served(
        wsgi.application, environ("POST", path, _token(org["rep_a"]), body)
    )
    assert status == 200
    stored = Customer.objects.get(pk=customer.pk)
    assert stored.owner_id == org["rep_a"].pk == json.loads(answer)["owner"]
    assert stored.pool_id == org["east_pool"].pk
    assert stored.status == "owned"  # what a claim makes it, not the "won" sent


@pytest.mark.parametrize(
    "data",
    [{}, {"owner": 7}, {"status": "won", "pool": None}, {"reasons": "typo"}],
)
def test_a_claim_without_a_reason_validates_as_the_serializer_does(data: dict[str, Any]) -> None:
    request = Request(APIRequestFactory().post("/", data, format="json"), parsers=[JSONParser()])
    serializer = ClaimInput(data=data)
    assert serializer.is_valid()
    assert _claim_input(request) == dict(serializer.validated_data)


@pytest.mark.django_db(transaction=True)
def test_a_claim_reason_still_goes_through_the_serializer(
    org: dict[str, Any], make_customer: Callable[..., Customer]
) -> None:
    customer = make_customer(org["admin"], pool=org["east_pool"])
    body = json.dumps({"reason": "x" * 301}).encode()
    path = f"/api/v1/customers/{customer.pk}/claim/"
    status, _headers, answer = served(
        wsgi.application, environ("POST", path, _token(org["rep_a"]), body)
    )
    assert status == 400
    assert "reason" in json.loads(answer)["errors"]
    assert Customer.objects.get(pk=customer.pk).owner_id is None
