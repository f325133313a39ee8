"""The rule editor's smart strategy: the fairness bound is saved with the target, and a bad one
is named by the validation."""

from __future__ import annotations

from typing import Any

import pytest

from highseas.routing.models import AssignmentRule
from tests.web.pages import html, signed_in
from tests.web.test_views_rules import builder_post, in_english, preview

pytestmark = pytest.mark.django_db


def test_a_smart_team_target_carries_its_fairness_bound(world: dict[str, Any]) -> None:
    data = builder_post(world, target_kind="team", strategy="smart", fairness="0.4")
    data.update(target_team=str(world["east"].pk))
    client = signed_in(world["east_manager"])
    page = html(preview(client, data))
    fingerprint = page.split('name="previewed" value="')[1].split('"')[0]
    client.post("/console/rules/new/", {**data, "action": "save", "previewed": fingerprint})
    assert AssignmentRule.objects.get().target == {
        "team": world["east"].pk,
        "strategy": "smart",
        "fairness": 0.4,
    }


def test_a_fairness_bound_out_of_range_is_named(world: dict[str, Any]) -> None:
    data = builder_post(world, target_kind="team", strategy="smart", fairness="12")
    data.update(target_team=str(world["east"].pk))
    response = preview(in_english(world["east_manager"]), data)
    assert response.status_code == 400
    assert "Expected a number from 0 to 10" in response.content.decode()
    assert not AssignmentRule.objects.exists()
