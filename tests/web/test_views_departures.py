"""The departure handover pages (console → 离职交接): the list, the preview (the handover's own
dry run, nothing written), the run, a handover at a date and its cancellation, and who may."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.conf import settings
from django.utils import timezone

from highseas.accounts.models import User
from highseas.customers.models import Customer
from highseas.pools.models import OwnershipEvent
from highseas.routing.models import ScheduledHandover
from tests.admin_forms import deactivate_in_admin
from tests.web.pages import html, messages_of, signed_in

pytestmark = pytest.mark.django_db

MakeCustomer = Callable[..., Customer]


@pytest.fixture
def owned(org: dict[str, Any], make_customer: MakeCustomer) -> list[Customer]:
    rep = org["rep_a"]
    return [make_customer(rep, owner=rep, pool=org["east_pool"]) for _ in range(4)]


def _url(user: User, tail: str = "") -> str:
    return f"/console/departures/{user.pk}/{tail}"


def test_the_list_shows_the_managers_reps_with_what_they_own(
    org: dict[str, Any], owned: list[Customer]
) -> None:
    page = html(signed_in(org["east_manager"]).get("/console/departures/"))
    assert f'data-rep="{org["rep_a"].pk}"' in page
    assert f'data-rep="{org["rep_c"].pk}"' not in page  # another team's rep


def test_the_preview_says_who_gets_how_many_and_writes_nothing(
    org: dict[str, Any], owned: list[Customer]
) -> None:
    rows = OwnershipEvent.objects.count()
    client = signed_in(org["east_manager"])
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    response = client.get(_url(org["rep_a"]), {"to": "user", "receiver": org["rep_b"].pk})
    page = html(response)
    plan = response.context["plan"]
    assert (plan.moved, plan.problem_count, plan.dry_run) == (4, 0, True)
    assert [(r.user_id, r.customers) for r in plan.receivers] == [(org["rep_b"].pk, 4)]
    assert "data-run-departure" in page and "To REP_B" in page
    assert OwnershipEvent.objects.count() == rows
    assert Customer.objects.filter(owner=org["rep_a"]).count() == 4


def test_the_run_moves_them_and_shows_the_result(
    org: dict[str, Any], owned: list[Customer]
) -> None:
    client = signed_in(org["east_manager"])
    response = client.post(_url(org["rep_a"], "run/"), {"to": "pools", "when": "now"})
    page = html(response)
    assert 'data-remaining="0"' in page
    assert response.context["plan"].moved == 4
    assert not Customer.objects.filter(owner=org["rep_a"]).exists()
    assert set(Customer.objects.values_list("status", flat=True)) == {"pooled"}


def test_a_receiver_at_the_cap_is_shown_and_the_rest_stays(
    org: dict[str, Any], owned: list[Customer]
) -> None:
    policy = org["east_pool"].claim_policy
    policy.holding_cap = 3
    policy.save()
    response = signed_in(org["admin"]).get(
        _url(org["rep_a"]), {"to": "user", "receiver": org["rep_b"].pk}
    )
    page = html(response)
    plan = response.context["plan"]
    assert [(g.code, g.count) for g in plan.problems] == [("holding_cap_reached", 1)]
    assert "data-at-cap" in page


def test_a_handover_at_a_date_is_stored_listed_and_cancellable(
    org: dict[str, Any], owned: list[Customer]
) -> None:
    client = signed_in(org["east_manager"])
    at = timezone.localtime() + timedelta(days=3)
    response = client.post(
        _url(org["rep_a"], "run/"),
        {
            "to": "user",
            "receiver": org["rep_b"].pk,
            "when": "at",
            "at": at.strftime("%Y-%m-%dT%H:%M"),
        },
        follow=True,
    )
    row = ScheduledHandover.objects.get()
    assert (row.rep, row.receiver, row.to, row.state, row.created_by) == (
        org["rep_a"],
        org["rep_b"],
        "user",
        "scheduled",
        org["east_manager"],
    )
    assert f'data-scheduled="{row.pk}"' in html(response)
    assert Customer.objects.filter(owner=org["rep_a"]).count() == 4  # nothing moved yet
    client.post(f"/console/departures/scheduled/{row.pk}/cancel/")
    row.refresh_from_db()
    assert (row.state, row.cancelled_by) == ("cancelled", org["east_manager"])


def test_a_date_in_the_past_is_refused_and_nothing_is_stored(
    org: dict[str, Any], owned: list[Customer]
) -> None:
    at = timezone.localtime() - timedelta(hours=2)
    response = signed_in(org["east_manager"]).post(
        _url(org["rep_a"], "run/"),
        {"to": "pools", "when": "at", "at": at.strftime("%Y-%m-%dT%H:%M")},
        follow=True,
    )
    assert messages_of(response)
    assert not ScheduledHandover.objects.exists()


def test_a_rep_may_not_open_the_pages(org: dict[str, Any], owned: list[Customer]) -> None:
    client = signed_in(org["rep_b"])
    assert client.get("/console/departures/").status_code == 403
    assert client.get(_url(org["rep_a"]), {"to": "pools"}).status_code == 403
    assert client.post(_url(org["rep_a"], "run/"), {"to": "pools"}).status_code == 403
    assert Customer.objects.filter(owner=org["rep_a"]).count() == 4


def test_a_manager_may_not_hand_over_another_teams_rep(
    org: dict[str, Any], owned: list[Customer]
) -> None:
    client = signed_in(org["south_manager"])
    assert client.get(_url(org["rep_a"])).status_code == 404
    response = client.post(_url(org["rep_a"], "run/"), {"to": "pools", "when": "now"})
    assert response.status_code == 404
    assert Customer.objects.filter(owner=org["rep_a"]).count() == 4
    assert not OwnershipEvent.objects.filter(kind="released").exists()


def test_a_receiver_outside_the_managers_team_is_not_offered_nor_accepted(
    org: dict[str, Any], owned: list[Customer]
) -> None:
    client = signed_in(org["east_manager"])
    response = client.get(_url(org["rep_a"]))
    offered = {u.pk for u in response.context["form"].fields["receiver"].queryset}
    assert org["rep_c"].pk not in offered and org["rep_a"].pk not in offered
    refused = client.post(
        _url(org["rep_a"], "run/"), {"to": "user", "receiver": org["rep_c"].pk, "when": "now"}
    )
    assert refused.status_code == 302
    assert Customer.objects.filter(owner=org["rep_a"]).count() == 4


def test_the_admins_refusal_to_deactivate_points_to_the_handover(
    org: dict[str, Any], owned: list[Customer]
) -> None:
    response = deactivate_in_admin(org["admin"], org["rep_a"])
    (error,) = response.context["adminform"].form.non_field_errors()
    assert _url(org["rep_a"]) in str(error)
    assert User.objects.get(pk=org["rep_a"].pk).is_active
