"""Pool view limits (防捞取): a rep opens at most ``daily_view_limit`` pooled customers of a pool
in detail per org-calendar day, through the API and the web page alike."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from highseas.accounts.visibility import Viewer
from highseas.customers.models import Customer
from highseas.engine.errors import ErrorCode, HighSeasError
from highseas.pools.models import ClaimPolicy, CustomerView
from highseas.pools.views_quota import open_customer, views_left
from tests.races import race

ZONE = timezone.get_default_timezone()
NOON = datetime(2026, 11, 2, 12, 0, tzinfo=ZONE)


@pytest.fixture
def limited(org: dict[str, Any], make_customer: Callable[..., Customer]) -> dict[str, Any]:
    ClaimPolicy.objects.filter(pool=org["east_pool"]).update(daily_view_limit=2)
    org["pooled"] = [make_customer(org["admin"], pool=org["east_pool"]) for _ in range(4)]
    return org


def opens(org: dict[str, Any], who: str, index: int, now: datetime = NOON) -> Customer:
    return open_customer(Viewer(org[who]), org["pooled"][index].pk, now=now)


def refusal(org: dict[str, Any], who: str, index: int, now: datetime = NOON) -> HighSeasError:
    with pytest.raises(HighSeasError) as caught:
        opens(org, who, index, now)
    return caught.value


@pytest.mark.django_db
class TestDailyViewLimit:
    def test_past_the_limit_the_detail_is_refused_with_used_and_limit(
        self, limited: dict[str, Any]
    ) -> None:
        opens(limited, "rep_a", 0)
        opens(limited, "rep_a", 1)
        error = refusal(limited, "rep_a", 2)
        assert (error.code, error.facts) == (
            ErrorCode.VIEW_QUOTA_EXCEEDED,
            {"used": 2, "limit": 2},
        )

    def test_a_refusal_leaves_no_row(self, limited: dict[str, Any]) -> None:
        opens(limited, "rep_a", 0)
        opens(limited, "rep_a", 1)
        refusal(limited, "rep_a", 2)
        assert sorted(CustomerView.objects.values_list("customer_id", flat=True)) == sorted(
            c.pk for c in limited["pooled"][:2]
        )

    def test_reopening_a_customer_counted_today_is_free(self, limited: dict[str, Any]) -> None:
        for _ in range(3):
            opens(limited, "rep_a", 0)
        opens(limited, "rep_a", 1)
        opens(limited, "rep_a", 0, NOON + timedelta(hours=11, minutes=59))
        assert CustomerView.objects.count() == 2

    def test_the_count_resets_at_the_org_midnight(self, limited: dict[str, Any]) -> None:
        opens(limited, "rep_a", 0)
        opens(limited, "rep_a", 1)
        midnight = datetime(2026, 11, 3, 0, 0, tzinfo=ZONE)
        assert refusal(limited, "rep_a", 2, midnight - timedelta(microseconds=1)).code == (
            ErrorCode.VIEW_QUOTA_EXCEEDED
        )
        opens(limited, "rep_a", 2, midnight)
        opens(limited, "rep_a", 0, midnight)  # counted again on the new day
        assert refusal(limited, "rep_a", 3, midnight).facts == {"used": 2, "limit": 2}

    def test_each_rep_has_their_own_count(self, limited: dict[str, Any]) -> None:
        opens(limited, "rep_a", 0)
        opens(limited, "rep_a", 1)
        opens(limited, "rep_b", 2)
        standing = views_left(Viewer(limited["rep_b"]), limited["east_pool"].pk, now=NOON)
        assert standing is not None and (standing.used, standing.left) == (1, 1)

    def test_managers_and_admins_are_not_limited(self, limited: dict[str, Any]) -> None:
        for index in range(4):
            opens(limited, "east_manager", index)
            opens(limited, "admin", index)
        assert CustomerView.objects.count() == 0
        assert views_left(Viewer(limited["east_manager"]), limited["east_pool"].pk) is None

    def test_a_pool_without_a_limit_counts_nothing(self, limited: dict[str, Any]) -> None:
        ClaimPolicy.objects.filter(pool=limited["east_pool"]).update(daily_view_limit=None)
        for index in range(4):
            opens(limited, "rep_a", index)
        assert CustomerView.objects.count() == 0

    def test_an_owned_customer_is_not_counted(self, limited: dict[str, Any]) -> None:
        Customer.objects.filter(pk=limited["pooled"][0].pk).update(
            status="owned", owner=limited["rep_a"], owned_since=NOON
        )
        opens(limited, "rep_a", 0)
        assert CustomerView.objects.count() == 0

    def test_a_customer_the_rep_may_not_see_is_not_found_and_not_counted(
        self, limited: dict[str, Any], make_customer: Callable[..., Customer]
    ) -> None:
        other = make_customer(limited["admin"], pool=limited["south_pool"])
        with pytest.raises(HighSeasError) as caught:
            open_customer(Viewer(limited["rep_a"]), other.pk, now=NOON)
        assert caught.value.code == ErrorCode.NOT_FOUND
        assert CustomerView.objects.count() == 0

    def test_the_remaining_views_count_down(self, limited: dict[str, Any]) -> None:
        viewer, pool = Viewer(limited["rep_a"]), limited["east_pool"].pk
        standing = views_left(viewer, pool, now=NOON)
        assert standing is not None and (standing.left, standing.limit) == (2, 2)
        opens(limited, "rep_a", 0)
        standing = views_left(viewer, pool, now=NOON)
        assert standing is not None and (standing.used, standing.left) == (1, 1)


@pytest.mark.django_db
class TestAdapters:
    def test_the_api_detail_answers_429_with_used_and_limit_and_reveals_nothing(
        self, limited: dict[str, Any], api: Callable[..., Any]
    ) -> None:
        client = api(limited["rep_a"])
        for customer in limited["pooled"][:2]:
            assert client.get(f"/api/v1/customers/{customer.pk}/").status_code == 200
        again = client.get(f"/api/v1/customers/{limited['pooled'][0].pk}/")
        assert again.status_code == 200
        response = client.get(f"/api/v1/customers/{limited['pooled'][2].pk}/")
        assert response.status_code == 429
        body = response.json()
        assert (body["code"], body["used"], body["limit"]) == ("view_quota_exceeded", 2, 2)
        assert limited["pooled"][2].name not in response.content.decode()

    def test_the_api_list_does_not_count(
        self, limited: dict[str, Any], api: Callable[..., Any]
    ) -> None:
        response = api(limited["rep_a"]).get(f"/api/v1/customers/?pool={limited['east_pool'].pk}")
        assert response.status_code == 200
        assert CustomerView.objects.count() == 0

    def test_the_web_page_counts_and_refuses_and_the_pool_list_shows_what_is_left(
        self, limited: dict[str, Any]
    ) -> None:
        client = Client()
        client.force_login(limited["rep_a"])
        pool_url = f"/pool/?pool={limited['east_pool'].pk}"
        assert 'data-quota="views">2/2<' in client.get(pool_url).content.decode()
        assert client.get(f"/customers/{limited['pooled'][0].pk}/").status_code == 200
        assert 'data-quota="views">1/2<' in client.get(pool_url).content.decode()
        assert client.get(f"/customers/{limited['pooled'][1].pk}/").status_code == 200
        refused = client.get(f"/customers/{limited['pooled'][2].pk}/")
        assert refused.status_code == 429
        assert limited["pooled"][2].name not in refused.content.decode()
        assert 'data-quota="views">0/2<' in client.get(pool_url).content.decode()


@pytest.mark.django_db(transaction=True)
def test_the_limit_holds_under_concurrent_openings(
    org: dict[str, Any], make_customer: Callable[..., Customer]
) -> None:
    """Each day 30 openings race (20 customers, the first five of them three times at once):
    exactly five are counted, whatever the interleaving, and nothing crashes."""
    ClaimPolicy.objects.filter(pool=org["east_pool"]).update(daily_view_limit=5)
    customers = [make_customer(org["admin"], pool=org["east_pool"]) for _ in range(20)]
    targets = [c.pk for c in customers] + [c.pk for c in customers[:5]] * 2
    for day in range(4):
        now = NOON + timedelta(days=day)
        tally = race(
            len(targets),
            lambda i, at=now: open_customer(Viewer(org["rep_a"]), targets[i], now=at),
        )
        views = CustomerView.objects.filter(viewer=org["rep_a"], opened_at=now)
        assert views.count() == 5, (day, tally)
        assert views.values("customer").distinct().count() == 5
        assert tally["ok"] + tally["view_quota_exceeded"] == len(targets), tally
        assert tally["view_quota_exceeded"] >= 15
