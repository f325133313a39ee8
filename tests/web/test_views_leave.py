"""Leave cover on the pages: the customer page's countdown says the clocks pause (or who
covers), and the policy editor offers the leave mode with its preview."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.conf import settings
from django.utils import timezone

from highseas.accounts.visibility import Viewer
from highseas.customers.models import Customer
from highseas.pools.leave import record_leave
from highseas.pools.models import Pool, RecyclePolicy
from tests.web.pages import html, signed_in
from tests.web.test_views_console import _policy_form

pytestmark = pytest.mark.django_db
DAY = timedelta(days=1)


@pytest.fixture
def held(org: dict[str, Any], make_customer: Callable[..., Customer]) -> Customer:
    RecyclePolicy.objects.filter(pool=org["east_pool"]).update(idle_days=10, warn_days=2)
    pool = Pool.objects.get(pk=org["east_pool"].pk)
    customer = make_customer(org["rep_a"], owner=org["rep_a"], pool=pool)
    today = timezone.localdate()
    record_leave(
        Viewer(org["east_manager"]),
        org["rep_a"].pk,
        leave_from=today - DAY,
        leave_until=today + 2 * DAY,
        cover_id=org["rep_b"].pk,
    )
    return customer


def test_the_countdown_says_the_clock_is_paused_until_the_leave_ends(
    org: dict[str, Any], held: Customer
) -> None:
    until = (timezone.localdate() + 2 * DAY).isoformat()
    page = html(signed_in(org["rep_a"]).get(f"/customers/{held.pk}/"))
    assert 'data-leave="pause"' in page and until in page
    manager = signed_in(org["east_manager"])
    manager.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    english = html(manager.get(f"/customers/{held.pk}/"))
    assert f"the recycle countdown is paused until {until}" in english


def test_in_a_cover_pool_the_cover_opens_the_page_and_it_names_them(
    org: dict[str, Any], held: Customer
) -> None:
    RecyclePolicy.objects.filter(pool=org["east_pool"]).update(leave_mode="cover")
    cover = signed_in(org["rep_b"])
    cover.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    page = html(cover.get(f"/customers/{held.pk}/"))
    assert "On leave: followed up by REP_B." in page
    assert f'action="/customers/{held.pk}/activities/"' in page  # may follow up
    assert f'action="/customers/{held.pk}/release/"' not in page  # not give it away
    assert f'action="/customers/{held.pk}/freeze/"' not in page
    stranger = signed_in(org["rep_c"]).get(f"/customers/{held.pk}/")
    assert "data-leave" not in stranger.content.decode()  # the public card at most


def test_the_policy_editor_offers_and_saves_the_leave_mode(
    world: dict[str, Any],
) -> None:
    url = f"/console/pools/{world['east_pool'].pk}/"
    client = signed_in(world["east_manager"])
    page = html(client.get(url))
    assert 'name="leave_mode" value="pause"' in page and "data-leave-mode" in page
    data = _policy_form(world, leave_mode="cover", action="preview")
    fingerprint = client.post(url, data).context["fingerprint"]
    saved = client.post(url, {**data, "action": "save", "previewed": fingerprint})
    assert saved.status_code == 302
    assert RecyclePolicy.objects.get(pool=world["east_pool"]).leave_mode == "cover"


def test_a_policy_save_without_the_leave_mode_keeps_it(world: dict[str, Any]) -> None:
    RecyclePolicy.objects.filter(pool=world["east_pool"]).update(leave_mode="cover")
    url = f"/console/pools/{world['east_pool'].pk}/"
    client = signed_in(world["east_manager"])
    data = _policy_form(world, action="preview")
    fingerprint = client.post(url, data).context["fingerprint"]
    client.post(url, {**data, "action": "save", "previewed": fingerprint})
    assert RecyclePolicy.objects.get(pool=world["east_pool"]).leave_mode == "cover"


def test_a_rep_may_not_change_the_leave_mode(world: dict[str, Any]) -> None:
    url = f"/console/pools/{world['east_pool'].pk}/"
    data = _policy_form(world, leave_mode="cover", action="save")
    response = signed_in(world["rep_a"]).post(url, data)
    assert response.status_code == 403
    assert RecyclePolicy.objects.get(pool=world["east_pool"]).leave_mode == "pause"
