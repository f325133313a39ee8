"""Review of the token lane (``config/wsgi.py``): a request chooses the lane by sending an
``Authorization: Token …`` header, and the lane has no CSRF check. A cross-site forgery could
try to ride it: the victim's session cookie plus an empty, blank or bogus token header. Each
must be refused (401 in the lane, 403 on the full chain) with nothing written, whatever the
session says; so must the spellings that take the full chain (``token``, ``Bearer``)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from highseas.config import wsgi
from highseas.customers.models import Customer
from highseas.pools.models import OwnershipEvent
from tests.api.test_token_lane import _session_cookie, served
from tests.wsgi import environ

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize(
    ("authorization", "lane", "status"),
    [
        ("Token ", True, 401),  # no credentials
        ("Token    ", True, 401),
        ("Token x", True, 401),  # bogus
        ("Token a b", True, 401),  # two words
        ("token x", False, 401),  # full chain: knox reads any case, and refuses it
        ("Bearer x", False, 403),  # full chain: session authentication, CSRF refused
        ("Token", False, 401),  # no space: full chain, knox refuses it
    ],
)
def test_a_forged_token_header_beside_the_victim_s_session_claims_nothing(
    org: dict[str, Any],
    make_customer: Callable[..., Customer],
    authorization: str,
    lane: bool,
    status: int,
) -> None:
    customer = make_customer(org["admin"], pool=org["east_pool"])
    request = environ("POST", f"/api/v1/customers/{customer.pk}/claim/", "", b"{}")
    request["HTTP_AUTHORIZATION"] = authorization
    request["HTTP_COOKIE"] = _session_cookie(org["rep_a"])  # the victim's, no CSRF token
    request["HTTP_ORIGIN"] = "https://evil.example"
    assert wsgi.in_token_lane(request) is lane
    answered, _headers, body = served(wsgi.application, request)
    assert answered == status
    assert json.loads(body)["code"] in {"not_authenticated", "permission_denied"}
    stored = Customer.objects.get(pk=customer.pk)
    assert (stored.owner_id, stored.status) == (None, "pooled")
    assert not OwnershipEvent.objects.filter(customer=customer, kind="claimed").exists()


def test_a_token_header_on_a_web_page_keeps_the_csrf_check(
    org: dict[str, Any], make_customer: Callable[..., Customer]
) -> None:
    """The lane is the API's only: a web form posted with a token header and the victim's
    session still meets CSRF."""
    customer = make_customer(org["admin"], pool=org["east_pool"])
    request = environ("POST", f"/customers/{customer.pk}/claim/", "x", b"")
    request["HTTP_COOKIE"] = _session_cookie(org["rep_a"])
    assert not wsgi.in_token_lane(request)
    answered, _headers, _body = served(wsgi.application, request)
    assert answered == 403
    assert Customer.objects.get(pk=customer.pk).owner_id is None


@pytest.mark.parametrize(
    "path",
    ["/api/v1/auth", "/api/v1//auth/token/", "/api/v1/auth/../me/"],
)
def test_paths_near_sign_in_never_reach_a_session_without_csrf(
    org: dict[str, Any], path: str
) -> None:
    """Spellings of the sign-in prefix that the lane takes are answered without a session: a
    signed-in victim's cookie gives them no user."""
    request = environ("POST", path, "x", b"{}")
    request["HTTP_COOKIE"] = _session_cookie(org["rep_a"])
    answered, headers, _body = served(wsgi.application, request)
    assert answered in {301, 401, 404}
    assert "Set-Cookie" not in headers
