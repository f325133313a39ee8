"""Review: a token header that is not UTF-8 (a client's stray Latin-1 byte, or a probe) must be
refused as any bad token is, 401 with the JSON error shape ``{"code": "not_authenticated"}``,
on both handlers. ``DeviceTokenAuthentication.authenticate_credentials`` decoded the secret
outside any guard, and such a request ended in a 500 HTML page."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from highseas.config import wsgi
from highseas.customers.models import Customer
from tests.api.test_token_lane import served
from tests.wsgi import environ

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize("app", [wsgi.application, wsgi.application_for_everything])
def test_a_token_that_is_not_utf8_is_refused_as_a_bad_token(
    org: dict[str, Any], make_customer: Callable[..., Customer], app: Any
) -> None:
    customer = make_customer(org["admin"], pool=org["east_pool"])
    request = environ("POST", f"/api/v1/customers/{customer.pk}/claim/", "", b"{}")
    request["HTTP_AUTHORIZATION"] = "Token \u00e9\u00e9"  # the bytes 0xE9 0xE9 on the wire
    status, _headers, body = served(app, request)
    assert status == 401
    assert json.loads(body)["code"] == "not_authenticated"
    assert Customer.objects.get(pk=customer.pk).owner_id is None
