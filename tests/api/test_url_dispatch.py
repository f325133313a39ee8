"""The API's routes grouped by prefix (``highseas.api.routers.by_prefix``) match exactly what
the router's flat list matched: the same view, name and arguments for every route of every
prefix (with and without a format suffix), for the explicit paths, and nothing for paths that
matched nothing. And a claim's path is tried against the customers' routes first."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import pytest
from django.urls import URLResolver, include, path
from django.urls.exceptions import Resolver404
from django.urls.resolvers import RegexPattern

from highseas.accounts.tokens import issue_token
from highseas.api import urls as api_urls
from highseas.customers.models import Customer
from highseas.pools.models import OwnershipEvent
from tests.api.test_request_cost import served

GROUP = re.compile(r"\(\?P<(\w+)>([^)]*\)?)\)")


def sample(regex: str) -> str:
    """A path the router's ``regex`` matches: numeric ids 123, formats json, other keys abc."""

    def fill(match: re.Match[str]) -> str:
        if match.group(1) == "format":
            return ".json" if match.group(2).startswith("\\.") else "json"
        return "123" if "0-9]{" in match.group(2) else "abc"

    text = GROUP.sub(fill, regex).lstrip("^").removesuffix("\\Z").rstrip("$")
    text = text.replace("/?", "/").replace("\\.", ".")
    return text


def flat_resolver() -> URLResolver:
    """The layout before grouping: the explicit paths, then ``include(router.urls)``."""
    grouped = {id(route) for route in api_urls.routes}
    explicit = [p for p in api_urls.urlpatterns if id(p) not in grouped]
    return URLResolver(RegexPattern(r"^/"), [*explicit, path("", include(api_urls.router.urls))])


def grouped_resolver() -> URLResolver:
    return URLResolver(RegexPattern(r"^/"), list(api_urls.urlpatterns))


def answer(resolver: URLResolver, url: str) -> tuple[object, ...] | None:
    try:
        match = resolver.resolve(url)
    except Resolver404:
        return None
    func = getattr(match.func, "cls", match.func)
    actions = getattr(match.func, "actions", None)
    return (match.url_name, func, actions, match.args, match.kwargs)


def router_paths() -> list[str]:
    return [sample(str(pattern.pattern.regex.pattern)) for pattern in api_urls.router.urls]


def test_every_router_route_resolves_as_before() -> None:
    flat, grouped = flat_resolver(), grouped_resolver()
    paths = router_paths()
    assert len(paths) > 60
    for url in paths:
        before = answer(flat, "/" + url)
        assert before is not None, url
        assert answer(grouped, "/" + url) == before, url


@pytest.mark.parametrize(
    "url",
    [
        "/me/",
        "/auth/token/",
        "/auth/tokens/",
        "/auth/tokens/7/",
        "/insights/limit-plans/3/preview/",
        "/customers/123/claim/",
        "/customers/123/claim.json",
        "/customers.json",
        "/customers/",
        "/",
        "/.json",
        # nothing matched these before; nothing may now
        "/customers/abc/claim/",
        "/customers/١٢٣/claim/",
        "/customers/1234567890123456789/claim/",
        "/customers123/",
        "/customers",
        "/customersx/1/claim/",
        "/auth/tokensx/",
        "/nothing/",
        "/customers/123/claim/extra/",
    ],
)
def test_explicit_paths_and_near_misses_resolve_as_before(url: str) -> None:
    assert answer(grouped_resolver(), url) == answer(flat_resolver(), url)


def test_a_claim_is_tried_against_the_customers_routes_first() -> None:
    first = api_urls.urlpatterns[0]
    assert isinstance(first, URLResolver) and str(first.pattern) == "customers/"
    assert first.url_patterns[0].name == "customer-claim"
    assert first.resolve("customers/123/claim/").url_name == "customer-claim"
    # no other pattern could match a customers path, so its being first changes no answer
    for other in api_urls.urlpatterns[1:]:
        assert not str(other.pattern).lstrip("^").startswith("customers/"), other


@pytest.mark.django_db(transaction=True)
def test_an_action_with_a_format_suffix_claims_and_answers_json(
    org: dict[str, Any], make_customer: Callable[..., Customer]
) -> None:
    """``claim(self, request, pk)`` takes no ``format``: the suffix reaches DRF's content
    negotiation as the query parameter, and the claim answers as without the suffix (it was a
    500 page from a ``TypeError``). A bogus suffix is refused before anything is written."""
    customer = make_customer(org["admin"], pool=org["east_pool"])
    secret = issue_token(org["rep_a"], device="t", audited=False)[1]
    status, body = served("POST", f"/api/v1/customers/{customer.pk}/claim.xml", secret, b"{}")
    assert status == 404 and json.loads(body)["code"] == "not_found"
    assert not OwnershipEvent.objects.filter(customer=customer, kind="claimed").exists()
    status, body = served("POST", f"/api/v1/customers/{customer.pk}/claim.json", secret, b"{}")
    assert status == 200, body[:300]
    assert json.loads(body)["owner"] == org["rep_a"].pk
    assert OwnershipEvent.objects.filter(customer=customer, kind="claimed").count() == 1
