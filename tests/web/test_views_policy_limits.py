"""The pool policy editor offers the pool view limit and the repurchase window, previews the
window's effect and saves both."""

from __future__ import annotations

from typing import Any

from highseas.pools.models import ClaimPolicy, RecyclePolicy
from tests.web.pages import html, signed_in
from tests.web.test_views_console import _policy_form


def test_the_policy_editor_offers_and_saves_the_view_limit_and_the_repurchase_window(
    world: dict[str, Any],
) -> None:
    url = f"/console/pools/{world['east_pool'].pk}/"
    client = signed_in(world["east_manager"])
    page = html(client.get(url))
    assert 'name="daily_view_limit"' in page and 'name="won_repurchase_days"' in page
    data = _policy_form(world, daily_view_limit="40", won_repurchase_days="60", action="preview")
    fingerprint = client.post(url, data).context["fingerprint"]
    saved = client.post(url, {**data, "action": "save", "previewed": fingerprint})
    assert saved.status_code == 302
    assert ClaimPolicy.objects.get(pool=world["east_pool"]).daily_view_limit == 40
    assert RecyclePolicy.objects.get(pool=world["east_pool"]).won_repurchase_days == 60
