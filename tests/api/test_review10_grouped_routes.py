"""Review of the API routes grouped by prefix (``api.routers.by_prefix``), through both WSGI
handlers (the token lane and the full chain): the claim's route, tried first, still refuses
an anonymous request, a manager, a revoked token and a field that must not change; a path
inside the customers' prefix that no route matches answers 404 in the API's error shape."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from highseas.accounts import tokens
from highseas.config import wsgi
from highseas.customers.models import Customer
from highseas.pools.models import OwnershipEvent
from tests.api.test_token_lane import served
from tests.wsgi import environ

pytestmark = pytest.mark.django_db(transaction=True)
APPS = [wsgi.application, wsgi.application_for_everything]


def _post(app: Any, url: str, secret: str | None, body: bytes = b"{}") -> tuple[int, Any]:
    request = environ("POST", url, "", body)
    if secret is not None:
        request["HTTP_AUTHORIZATION"] = f"Token {secret}"
    status, _headers, answer = served(app, request)
    return status, json.loads(answer) if answer else None


@pytest.mark.parametrize("app", APPS)
def test_the_grouped_claim_route_refuses_who_must_be_refused(
    org: dict[str, Any], make_customer: Callable[..., Customer], app: Any
) -> None:
    customer = make_customer(org["admin"], pool=org["east_pool"])
    url = f"/api/v1/customers/{customer.pk}/claim/"
    _token, rep_secret = tokens.issue_token(org["rep_a"], device="t", audited=False)
    revoked, revoked_secret = tokens.issue_token(org["rep_b"], device="t", audited=False)
    revoked.delete()
    for secret, code in [(None, 401), (revoked_secret, 401), ("bogus", 401)]:
        status, answer = _post(app, url, secret)
        assert status == code and set(answer) >= {"code", "detail"}, (secret, answer)
    for path in ("customers/abc/claim/", f"customers/{customer.pk}/claim/extra/"):
        status, answer = _post(app, f"/api/v1/{path}", rep_secret)
        assert status == 404 and set(answer) >= {"code", "detail"}, (path, answer)
    # a field that must not change: the owner named in the body is ignored or refused
    status, answer = _post(app, url, rep_secret, json.dumps({"owner": org["rep_b"].pk}).encode())
    assert Customer.objects.get(pk=customer.pk).owner_id in (None, org["rep_a"].pk)
    assert not OwnershipEvent.objects.filter(customer=customer, to_owner=org["rep_b"]).exists()
    if status == 200:
        assert Customer.objects.get(pk=customer.pk).owner_id == org["rep_a"].pk


@pytest.mark.parametrize("app", APPS)
def test_a_manager_s_claim_through_the_grouped_route_is_the_service_s_answer(
    org: dict[str, Any], make_customer: Callable[..., Customer], app: Any
) -> None:
    """Whatever the service says of a manager claiming, both handlers say the same, in the
    error shape when refused, and a refusal leaves no ledger row."""
    customer = make_customer(org["admin"], pool=org["east_pool"])
    _token, secret = tokens.issue_token(org["east_manager"], device="t", audited=False)
    status, answer = _post(app, f"/api/v1/customers/{customer.pk}/claim/", secret)
    if status >= 400:
        assert set(answer) >= {"code", "detail"}
        assert not OwnershipEvent.objects.filter(customer=customer, kind="claimed").exists()
    else:
        assert status == 200 and answer["id"] == customer.pk
