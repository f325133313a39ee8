"""The console's smart assignment page: the model card, training on demand, a simulation with
its charts; reps are kept out."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from highseas.customers.models import Customer
from highseas.routing.models import AssignmentRule
from highseas.routing.services import run_assignment
from highseas.smart.models import Simulation, WinModelVersion
from highseas.smart.services import train_model
from tests.integration.test_smart import history
from tests.web.pages import html, messages_of, signed_in

pytestmark = pytest.mark.django_db


def test_the_page_says_smart_rules_fall_back_before_any_model(org: dict[str, Any]) -> None:
    page = html(signed_in(org["east_manager"]).get("/console/smart/"))
    assert 'data-fallback="no_model"' in page and "data-simulate" in page


def test_a_manager_trains_the_model_and_reads_its_holdout_figures(org: dict[str, Any]) -> None:
    history(org, [org["rep_a"], org["rep_b"]])
    client = signed_in(org["east_manager"])
    response = client.post("/console/smart/", {"action": "train"}, follow=True)
    assert "AUC" in messages_of(response)[0]
    page = html(response)
    version = WinModelVersion.objects.get()
    assert f'data-model="auc">{version.auc}<' in page and 'data-table="calibration"' in page


def test_a_simulation_shows_its_table_and_charts(org: dict[str, Any]) -> None:
    history(org, [org["rep_a"], org["rep_b"]])
    today = timezone.localdate()
    response = signed_in(org["admin"]).post(
        "/console/smart/",
        {
            "action": "simulate",
            "since": (today - timedelta(days=40)).isoformat(),
            "until": today.isoformat(),
            "strategies": ["round_robin", "smart"],
            "fairness": "0.25",
        },
        follow=True,
    )
    page = html(response)
    found = Simulation.objects.get()
    assert f'data-simulation="{found.pk}"' in page and page.count("<svg") >= 3


def test_a_rep_is_kept_out(org: dict[str, Any]) -> None:
    assert signed_in(org["rep_a"]).get("/console/smart/").status_code == 403


def test_a_smart_run_says_why_in_words_on_the_run_page(
    org: dict[str, Any], make_customer: Callable[..., Customer]
) -> None:
    history(org, [org["rep_a"], org["rep_b"]])
    train_model(None)
    make_customer(org["admin"], pool=org["east_pool"], industry="金融", province="广东")
    AssignmentRule.objects.create(
        name="智能", position=1, conditions={}, target={"team": org["east"].pk, "strategy": "smart"}
    )
    run = run_assignment(org["admin"], pool=org["east_pool"], dry_run=False, seed=1).run
    page = html(signed_in(org["east_manager"]).get(f"/console/runs/{run.pk}/"))
    why = page.split("data-smart-why>")[1].split("</ul>")[0]
    assert "成交概率" in why and "团队中位数" in why
