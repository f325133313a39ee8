"""The console's bounded sweep preview (``pools.reports.sweep_preview``) against the complete
dry run (``sweep_report``) on a seeded demo book: the same judgements for the customers it
judges, the warnings counted exactly (below the cap), "at least" and a "count all" link when
it stopped early; managers only, pools they belong to only; nothing written."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from highseas.accounts.models import Role, User
from highseas.accounts.visibility import Viewer
from highseas.customers.models import Customer
from highseas.demo.generator import DemoOptions, generate_demo
from highseas.engine.errors import ErrorCode, HighSeasError
from highseas.pools import reports
from highseas.pools.models import Pool

pytestmark = pytest.mark.django_db


@pytest.fixture
def book(django_user_model: Any) -> None:
    import io

    from django.core.management import call_command

    call_command("init", admin_username="admin", admin_password="Admin#2026", stdout=io.StringIO())
    now = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)
    generate_demo(DemoOptions(customers=300, now=now, batch_size=100, parallel=False))


def _manager() -> User:
    manager = User.objects.filter(role=Role.MANAGER, managed_teams__isnull=False).first()
    assert manager is not None
    return manager


@pytest.mark.parametrize("days", [0, 3, 20])
@pytest.mark.parametrize("who", ["manager", "admin"])
def test_the_bounded_preview_judges_as_the_complete_dry_run(
    book: None, days: int, who: str
) -> None:
    user = _manager() if who == "manager" else User.objects.get(username="admin")
    viewer = Viewer(user)
    at = timezone.now() + timedelta(days=days)
    full = reports.sweep_report(viewer, now=at, dry_run=True)
    whole = reports.sweep_preview(viewer, now=at, limit=10_000)
    assert whole.complete
    assert whole.report.recycled == full.recycled
    assert whole.warned_count == len(full.warned)
    assert not whole.warned_capped
    listed = [item.customer for item in whole.report.warned]
    assert set(listed) <= {item.customer for item in full.warned}
    assert len(listed) == min(len(full.warned), reports.PREVIEW_WARNED)
    first = reports.sweep_preview(viewer, now=at, limit=2)
    judged = first.report.recycled
    assert judged == full.recycled[: len(judged)]
    assert first.complete == (len(full.recycled) <= len(judged))


def test_the_page_says_at_least_and_counts_all_a_click_away(
    book: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    manager = _manager()
    at = timezone.localtime() + timedelta(days=20)
    full = reports.sweep_report(Viewer(manager), now=at, dry_run=True)
    assert len(full.recycled) > 2, "the book has enough due customers"
    monkeypatch.setattr(reports, "PREVIEW_DUE", 2)
    client = Client()
    client.force_login(manager)
    moment = at.strftime("%Y-%m-%dT%H:%M")
    before = list(Customer.objects.order_by("pk").values_list("pk", "status", "owner_id"))
    page = client.get(f"/console/sweep/?at={moment}")
    assert page.status_code == 200
    assert page.context["recycled_at_least"]
    assert 'data-sweep="count-all"' in page.content.decode()
    exact = client.get(f"/console/sweep/?at={moment}&full=1")
    assert not exact.context["recycled_at_least"]
    assert exact.context["recycled_count"] == len(full.recycled)
    assert exact.context["warned_count"] == len(full.warned)
    after = list(Customer.objects.order_by("pk").values_list("pk", "status", "owner_id"))
    assert before == after


def test_reps_and_strangers_to_a_pool_are_refused(book: None) -> None:
    rep = User.objects.filter(role=Role.REP).first()
    assert rep is not None
    with pytest.raises(HighSeasError) as refused:
        reports.sweep_preview(Viewer(rep), now=timezone.now())
    assert refused.value.code is ErrorCode.PERMISSION_DENIED
    manager = Viewer(_manager())
    stranger = Pool.objects.exclude(pk__in=manager.member_pool_ids).first()
    if stranger is not None:
        with pytest.raises(HighSeasError) as refused:
            reports.sweep_preview(manager, now=timezone.now(), pool=stranger.pk)
        assert refused.value.code is ErrorCode.NOT_POOL_MEMBER
    client = Client()
    client.force_login(rep)
    assert client.get("/console/sweep/").status_code == 403
