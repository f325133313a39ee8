"""Review: an API action the router also serves with a format suffix (``….json``) answers
JSON, in the API's error shape when refused, never a server error. It failed (an older
defect, fixed by ``api.routers.format_as_query``): an action whose handler takes no
``format`` argument (``OwnershipActions.claim(self, request, pk)``, release, transfer,
reveal, merge, unmerge, unfreeze, the claim requests' approve, reject and withdraw, the
notifications' read and read-all, …) got DRF's ``format`` keyword from ``….json`` and raised
``TypeError``: a 500 HTML page instead of ``{"code", "detail"}``, with nothing written."""

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


@pytest.mark.parametrize("app", [wsgi.application, wsgi.application_for_everything])
@pytest.mark.parametrize("action", ["claim", "release", "transfer", "unfreeze", "reveal"])
def test_an_action_with_a_format_suffix_answers_json_never_a_server_error(
    org: dict[str, Any], make_customer: Callable[..., Customer], app: Any, action: str
) -> None:
    customer = make_customer(org["admin"], pool=org["east_pool"])
    _token, secret = tokens.issue_token(org["rep_a"], device="t", audited=False)
    answers = []
    for suffix in ("/", ".json"):
        request = environ("POST", f"/api/v1/customers/{customer.pk}/{action}{suffix}", "", b"{}")
        request["HTTP_AUTHORIZATION"] = f"Token {secret}"
        status, headers, body = served(app, request)
        assert status < 500, (action, suffix, body[:200])
        assert headers.get("Content-Type", "").startswith("application/json"), headers
        answers.append((status, set(json.loads(body))))
        if action == "claim" and suffix == "/":  # the suffixed claim meets an owned customer
            assert status == 200
    status, keys = answers[1]
    assert status < 400 or keys >= {"code", "detail"}, answers
    if action == "claim":  # the plain claim took it; the suffixed one is refused
        assert status >= 400
        assert OwnershipEvent.objects.filter(customer=customer, kind="claimed").count() == 1
