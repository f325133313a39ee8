"""The API's routes grouped by prefix (``highseas.api.routers.by_prefix``) match exactly what
the router's flat list matched: the same view, name and arguments for every route of every
prefix (with and without a format suffix), for the explicit paths, and nothing for paths that
matched nothing. And a claim's path is tried against the customers' routes first."""

from __future__ import annotations

import re

import pytest
from django.urls import URLResolver, include, path
from django.urls.exceptions import Resolver404
from django.urls.resolvers import RegexPattern

from highseas.api import urls as api_urls

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
