"""Smart assignment against the real database: training on the organization's own deals,
versions with their holdout metrics, the explicit fallback, smart runs whose preview equals
the real run, and the explanation in words."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone, translation

from highseas.accounts.models import Role, User
from highseas.accounts.visibility import viewer_for
from highseas.customers.choices import CustomerStatus, DealStage
from highseas.customers.models import Customer, Deal
from highseas.engine.errors import HighSeasError
from highseas.pools.nightly import last_night
from highseas.routing.explain import render_decisions
from highseas.routing.models import AssignmentRule
from highseas.routing.services import run_assignment
from highseas.smart import services, store
from highseas.smart.models import WinModelVersion

pytestmark = pytest.mark.django_db

NOW = timezone.now()
STRONG = {"金融": "rep_a", "制造": "rep_b"}


def history(org: dict[str, Any], reps: list[User], deals: int = 400, seed: int = 3) -> None:
    """Deals over the last year: rep_a wins most finance deals, rep_b most manufacturing."""
    rng = random.Random(seed)
    customers, rows = [], []
    for i in range(deals):
        industry = rng.choice(list(STRONG))
        rep = rng.choice(reps)
        strong = STRONG[industry] == rep.username
        won = rng.random() < (0.75 if strong else 0.15)
        created = NOW - timedelta(days=rng.randint(30, 360))
        customers.append(
            Customer(
                name=f"历史客户{i}",
                industry=industry,
                province="广东",
                status=CustomerStatus.OWNED,
                owner=rep,
                owned_since=created,
                created_at=created,
            )
        )
        rows.append((rep, won, created))
    made = Customer.objects.bulk_create(customers)
    Deal.objects.bulk_create(
        Deal(
            customer=customer,
            amount=Decimal("1000"),
            stage=DealStage.WON if won else DealStage.LOST,
            owner=rep,
            created_at=created,
            won_at=created + timedelta(days=20) if won else None,
            lost_at=None if won else created + timedelta(days=20),
        )
        for customer, (rep, won, created) in zip(made, rows, strict=True)
    )


def backlog(
    org: dict[str, Any], make_customer: Callable[..., Customer], industries: list[str]
) -> list[Customer]:
    return [
        make_customer(
            org["admin"],
            pool=org["east_pool"],
            now=NOW - timedelta(hours=1),
            industry=industry,
            province="广东",
        )
        for industry in industries
    ]


def smart_rule(org: dict[str, Any], **target: Any) -> AssignmentRule:
    return AssignmentRule.objects.create(
        name="智能",
        position=1,
        conditions={},
        target={"team": org["east"].pk, "strategy": "smart", **target},
    )


@pytest.fixture
def east_reps(org: dict[str, Any], make_user: Callable[..., User]) -> list[User]:
    return [org["rep_a"], org["rep_b"], make_user(Role.REP, "rep_d", team=org["east"])]


def test_with_no_history_the_version_says_so_and_smart_falls_back(
    org: dict[str, Any], make_customer: Callable[..., Customer], east_reps: list[User]
) -> None:
    version = services.train_model(viewer_for(org["admin"]), now=NOW)
    assert version.version == 1 and version.fallback == "thin_data" and version.deals == 0
    assert version.artefact == "" and version.auc is None
    customers = backlog(org, make_customer, ["金融"] * 3)
    smart_rule(org)
    result = run_assignment(org["admin"], pool=org["east_pool"], dry_run=False, seed=1, now=NOW)
    assert len(result.assigned) == 3
    for decision in result.decisions:
        assert decision.explanation["fallback"] == {
            "strategy": "performance",
            "reason": "thin_data",
        }
    with translation.override("en"):
        rendered, _names = render_decisions(result.decisions)
    assert "performance" in rendered[0]["smart_summary"][0]
    assert {c.pk for c in customers} == {d.customer_id for d in result.decisions}


def test_without_any_version_smart_falls_back_for_want_of_a_model(
    org: dict[str, Any], make_customer: Callable[..., Customer], east_reps: list[User]
) -> None:
    backlog(org, make_customer, ["金融"])
    smart_rule(org)
    result = run_assignment(org["admin"], pool=org["east_pool"], dry_run=True, seed=1, now=NOW)
    assert result.decisions[0].explanation["fallback"]["reason"] == "no_model"


def test_training_stores_a_version_with_its_holdout_metrics_and_a_checked_file(
    org: dict[str, Any], east_reps: list[User]
) -> None:
    history(org, east_reps)
    version = services.train_model(viewer_for(org["east_manager"]), now=NOW)
    assert version.fallback == "" and version.deals == 400
    assert version.auc is not None and version.auc > 0.6  # the truth's own is about 0.79
    assert version.brier is not None and 0 < version.brier < 0.25
    assert version.metrics["calibration"] and version.metrics["holdout"] > 0
    assert version.trained_by == org["east_manager"]
    model, record = store.read(version.artefact, version.sha256)
    assert model.blocks and record.counts
    again = services.train_model(viewer_for(org["admin"]), now=NOW)
    assert again.version == 2 and services.current_version() == again


def test_a_rep_may_not_train_the_model(org: dict[str, Any]) -> None:
    with pytest.raises(HighSeasError) as refused:
        services.train_model(viewer_for(org["rep_a"]), now=NOW)
    assert refused.value.code == "permission_denied"
    assert not WinModelVersion.objects.exists()


def test_smart_gives_customers_to_the_rep_who_wins_them_within_the_fairness_bound(
    org: dict[str, Any], make_customer: Callable[..., Customer], east_reps: list[User]
) -> None:
    history(org, east_reps)
    services.train_model(None, now=NOW)
    customers = backlog(org, make_customer, ["金融"] * 6 + ["制造"] * 6)
    smart_rule(org, fairness=0.5)
    result = run_assignment(org["admin"], pool=org["east_pool"], dry_run=False, seed=5, now=NOW)
    owners = dict(
        Customer.objects.filter(pk__in=[c.pk for c in customers]).values_list("pk", "owner_id")
    )
    given = Counter(owners.values())
    assert sum(given.values()) == 12 and max(given.values()) <= 6  # ⌈1.5 × 12/3⌉
    finance = [owners[c.pk] for c in customers if c.industry == "金融"]
    assert Counter(finance).most_common(1)[0][0] == org["rep_a"].pk
    decision = next(d for d in result.decisions if d.owner_id == org["rep_a"].pk)
    smart = decision.explanation["smart"]
    assert smart["p"] > smart["team_median"] and smart["record"]["segment"]
    with translation.override("en"):
        rendered, _names = render_decisions([decision])
    words = rendered[0]["smart_summary"]
    assert "REP_A" in words[0] and "won" in words[1]
    rendered, _names = render_decisions([decision])  # in Chinese by default
    assert "近 12 个月广东" in rendered[0]["smart_summary"][1]


@pytest.mark.parametrize("size", [3, 50])
def test_a_smart_preview_and_the_real_run_with_the_same_seed_decide_the_same(
    org: dict[str, Any], make_customer: Callable[..., Customer], east_reps: list[User], size: int
) -> None:
    history(org, east_reps)
    services.train_model(None, now=NOW)
    backlog(org, make_customer, ["金融", "制造"] * 8)
    smart_rule(org, fairness=0.2)
    preview = run_assignment(
        org["admin"], pool=org["east_pool"], dry_run=True, seed=9, now=NOW, batch_size=size
    )
    real = run_assignment(
        org["admin"], pool=org["east_pool"], dry_run=False, seed=9, now=NOW, batch_size=size
    )
    assert [(d.customer_id, d.owner_id, d.explanation) for d in preview.decisions] == [
        (d.customer_id, d.owner_id, d.explanation) for d in real.decisions
    ]


def test_the_schedule_retrains_daily_once_deals_were_decided(
    org: dict[str, Any], east_reps: list[User]
) -> None:
    assert services.retrain_if_due(NOW) == {}  # nothing decided yet
    history(org, east_reps)
    assert services.retrain_if_due(NOW) == {"win_model_version": 1}
    next_night = last_night(NOW) + timedelta(days=1)
    assert services.retrain_if_due(next_night - timedelta(minutes=1)) == {}  # not a night on
    version = WinModelVersion.objects.get()
    assert version.trigger == WinModelVersion.Trigger.SCHEDULE and version.cutoff == NOW
    assert services.retrain_if_due(NOW + timedelta(days=2)) == {}  # nothing decided since
