"""Smart assignment in a real browser: a manager trains the win model, reads its holdout
figures and compares strategies on a past period, with the charts."""

from __future__ import annotations

from typing import Any

import pytest

from highseas.smart.models import Simulation, WinModelVersion
from tests.integration.test_smart import history

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_manager_trains_the_model_and_simulates_a_past_month(
    world: dict[str, Any], sign_in: Any, screenshot: Any
) -> None:
    history(world, [world["rep_a"], world["rep_b"]])
    manager = sign_in("mgr_east")
    manager.click("nav.topnav >> text=管理台")
    manager.click(".console-tabs >> text=智能分配")
    manager.wait_for_selector("[data-fallback=no_model]")
    manager.click("[data-train]")
    manager.wait_for_selector("[data-model=auc]")
    assert WinModelVersion.objects.get().auc is not None
    screenshot(manager, "27-smart-model")
    manager.click("[data-simulate] button[type=submit]")
    manager.wait_for_selector("[data-table=simulation]")
    assert Simulation.objects.count() == 1
    assert manager.locator("svg.chart").count() >= 3
    screenshot(manager, "28-smart-simulation")
