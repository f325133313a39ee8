"""The assignment-rules editor and run history through Django's test client: the builder's
post becomes the API's rule, the preview keeps nothing, save needs the previewed values,
and each manager sees and touches only their pools' rules."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from highseas.customers.models import Customer
from highseas.routing.models import AssignmentDecision, AssignmentRule, AssignmentRun
from highseas.routing.services import run_assignment
from tests.web.pages import html, messages_of, signed_in

pytestmark = pytest.mark.django_db


def builder_post(world: dict[str, Any], **extra: str) -> dict[str, str]:
    """浙江 customers of 华东公海 to rep_a; everything as the page's form posts it."""
    return {
        "name": "浙江客户给 A",
        "position": "1",
        "pool": str(world["east_pool"].pk),
        "is_active": "1",
        "mode": "builder",
        "combinator": "all",
        "g0-combinator": "all",
        "g0-r0-field": "province",
        "g0-r0-op": "in",
        "g0-r0-value": "浙江，上海",
        "g0-r1-field": "level",
        "g0-r1-op": "ne",
        "g0-r1-value": "C",
        "target_kind": "user",
        "target_user": str(world["rep_a"].pk),
        "target_team": "",
        "strategy": "round_robin",
        **extra,
    }


def in_english(user: Any) -> Client:
    client = signed_in(user)
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


def preview(client: Client, data: dict[str, str], url: str = "/console/rules/new/") -> Any:
    return client.post(url, {**data, "action": "preview"})


def test_a_rep_is_refused_the_rule_pages(world: dict[str, Any]) -> None:
    client = signed_in(world["rep_a"])
    for url in ("/console/rules/", "/console/rules/new/", "/console/runs/"):
        assert client.get(url).status_code == 403
    assert preview(client, builder_post(world)).status_code == 403
    assert not AssignmentRule.objects.exists()


def test_a_manager_lists_only_the_rules_of_their_pools(
    world: dict[str, Any], admin_rule: Any
) -> None:
    south = AssignmentRule.objects.create(
        name="华南规则", pool=world["south_pool"], target={"user": world["rep_c"].pk}
    )
    page = html(signed_in(world["east_manager"]).get("/console/rules/"))
    assert "华东公海" in page and "华东重点客户池" in page
    assert "华南公海" not in page and south.name not in page
    assert admin_rule.name in page  # a rule for every pool applies to theirs too
    assert f'data-new-rule="{world["south_pool"].pk}"' not in page


@pytest.fixture
def admin_rule(world: dict[str, Any]) -> AssignmentRule:
    return AssignmentRule.objects.create(
        name="全局兜底", position=9, pool=None, target={"pool": world["east_pool"].pk}
    )


def test_the_preview_shows_what_the_rule_takes_and_keeps_nothing(world: dict[str, Any]) -> None:
    runs = AssignmentRun.objects.count()
    page = html(preview(signed_in(world["east_manager"]), builder_post(world)))
    zhejiang = Customer.objects.filter(
        status="pooled", pool=world["east_pool"], province__in=["浙江", "上海"]
    ).exclude(level="C")
    assert zhejiang.count() >= 3
    for customer in zhejiang:
        assert f'data-customer="{customer.pk}"' in page
    assert "苏州恒达精密机械有限公司" not in page  # 江苏
    assert "温州瓯江鞋业有限公司" not in page  # level C
    # the pool gives a rep at most 3 a day: the rest of what the rule matches stays pooled
    assert 'data-preview-count="3" data-preview-kept="2"' in page
    assert zhejiang.count() == 5
    assert not AssignmentRule.objects.exists()
    assert AssignmentRun.objects.count() == runs
    assert Customer.objects.filter(pk__in=zhejiang, status="pooled").count() == zhejiang.count()


def test_save_stores_the_tree_of_the_api_after_the_preview(world: dict[str, Any]) -> None:
    client = signed_in(world["east_manager"])
    data = builder_post(world)
    page = html(preview(client, data))
    fingerprint = page.split('name="previewed" value="')[1].split('"')[0]
    response = client.post(
        "/console/rules/new/", {**data, "action": "save", "previewed": fingerprint}
    )
    assert response.status_code == 302
    rule = AssignmentRule.objects.get()
    assert rule.conditions == {
        "all": [
            {"field": "province", "op": "in", "value": ["浙江", "上海"]},
            {"field": "level", "op": "ne", "value": "C"},
        ]
    }
    assert rule.target == {"user": world["rep_a"].pk}
    assert (rule.name, rule.position, rule.pool, rule.is_active) == (
        "浙江客户给 A",
        1,
        world["east_pool"],
        True,
    )
    assert rule.created_by == world["east_manager"]


def test_save_refuses_values_other_than_those_previewed(world: dict[str, Any]) -> None:
    client = signed_in(world["east_manager"])
    page = html(preview(client, builder_post(world)))
    fingerprint = page.split('name="previewed" value="')[1].split('"')[0]
    changed = builder_post(world, **{"g0-r0-value": "江苏"})
    page = html(
        client.post("/console/rules/new/", {**changed, "action": "save", "previewed": fingerprint})
    )
    assert not AssignmentRule.objects.exists()
    assert "data-preview>" in page and "苏州恒达精密机械有限公司" in page


def test_the_builder_shows_the_apis_validation_on_the_row(world: dict[str, Any]) -> None:
    data = builder_post(world, **{"g0-r1-field": "employees", "g0-r1-op": "between"})
    data["g0-r1-value"] = "500, 10"
    response = preview(in_english(world["east_manager"]), data)
    assert response.status_code == 400
    page = response.content.decode()
    row = page.split('data-row="0-1"')[1].split("</div>")[0]
    assert "&quot;between&quot; needs low &lt;= high." in row
    assert "data-preview>" not in page
    assert not AssignmentRule.objects.exists()


def test_a_weighted_team_target_carries_the_weights(world: dict[str, Any]) -> None:
    data = builder_post(world, target_kind="team", strategy="weighted")
    data.update(
        target_team=str(world["east"].pk),
        **{f"weight-{world['rep_a'].pk}": "2", f"weight-{world['rep_b'].pk}": "1"},
    )
    client = signed_in(world["east_manager"])
    page = html(preview(client, data))
    fingerprint = page.split('name="previewed" value="')[1].split('"')[0]
    client.post("/console/rules/new/", {**data, "action": "save", "previewed": fingerprint})
    assert AssignmentRule.objects.get().target == {
        "team": world["east"].pk,
        "strategy": "weighted",
        "weights": {str(world["rep_a"].pk): 2, str(world["rep_b"].pk): 1},
    }


def test_a_manager_cannot_route_to_another_teams_rep(world: dict[str, Any]) -> None:
    data = builder_post(world, target_user=str(world["rep_c"].pk))
    response = preview(in_english(world["east_manager"]), data)
    assert response.status_code == 400
    assert "you cannot route customers to that user" in response.content.decode()
    assert not AssignmentRule.objects.exists()


def test_a_manager_cannot_put_a_rule_on_another_pool(world: dict[str, Any]) -> None:
    data = builder_post(world, pool=str(world["south_pool"].pk))
    response = preview(signed_in(world["east_manager"]), data)
    assert response.status_code == 400
    assert not AssignmentRule.objects.exists()


def test_another_managers_rule_is_not_found(world: dict[str, Any]) -> None:
    rule = AssignmentRule.objects.create(
        name="华南规则", pool=world["south_pool"], target={"user": world["rep_c"].pk}
    )
    client = signed_in(world["east_manager"])
    assert client.get(f"/console/rules/{rule.pk}/").status_code == 404
    assert client.post(f"/console/rules/{rule.pk}/delete/").status_code == 404
    assert AssignmentRule.objects.filter(pk=rule.pk).exists()


def test_an_existing_rule_opens_in_the_builder_and_deletes(world: dict[str, Any]) -> None:
    rule = AssignmentRule.objects.create(
        name="宁波",
        pool=world["east_pool"],
        target={"user": world["rep_b"].pk},
        conditions={
            "any": [
                {"field": "city", "op": "eq", "value": "宁波"},
                {"not": {"field": "employees", "op": "gte", "value": 100}},
            ]
        },
    )
    client = signed_in(world["east_manager"])
    page = html(client.get(f"/console/rules/{rule.pk}/"))
    assert 'name="g0-r0-value" value="宁波"' in page
    assert 'name="g0-r1-negate" value="1" checked' in page
    response = client.post(f"/console/rules/{rule.pk}/delete/")
    assert response.status_code == 302
    assert not AssignmentRule.objects.filter(pk=rule.pk).exists()


def test_a_deeper_tree_opens_as_json(world: dict[str, Any]) -> None:
    tree = {"all": [{"any": [{"not": {"all": [{"field": "city", "op": "exists"}]}}]}]}
    rule = AssignmentRule.objects.create(
        name="深", pool=world["east_pool"], target={"user": world["rep_b"].pk}, conditions=tree
    )
    page = html(signed_in(world["east_manager"]).get(f"/console/rules/{rule.pk}/"))
    assert 'name="conditions_json"' in page and 'name="g0-r0-field"' not in page


def test_add_and_remove_rows_without_javascript(world: dict[str, Any]) -> None:
    client = signed_in(world["east_manager"])
    page = html(client.post("/console/rules/new/", {**builder_post(world), "action": "add_row:0"}))
    assert 'name="g0-r2-field"' in page
    page = html(
        client.post("/console/rules/new/", {**builder_post(world), "action": "remove_row:0:0"})
    )
    assert 'name="g0-r1-field"' not in page and 'value="level" selected' in page
    page = html(client.post("/console/rules/new/", {**builder_post(world), "action": "add_group"}))
    assert 'name="g1-r0-field"' in page
    assert not AssignmentRule.objects.exists()


def test_run_history_explains_each_decision(world: dict[str, Any]) -> None:
    AssignmentRule.objects.create(
        name="杭州给 A",
        pool=world["east_pool"],
        target={"user": world["rep_a"].pk},
        conditions={"field": "city", "op": "eq", "value": "杭州"},
    )
    result = run_assignment(world["east_manager"], pool=world["east_pool"], dry_run=False)
    run = result.run
    assert run.assigned >= 1
    client = in_english(world["east_manager"])
    listing = html(client.get("/console/runs/"))
    page = html(client.get(f"/console/runs/{run.pk}/"))
    assert f'data-run="{run.pk}"' in listing
    decision = AssignmentDecision.objects.filter(run=run, outcome="assigned").first()
    assert decision is not None
    assert f"Rule «杭州给 A» gave this customer to {world['rep_a'].label}." in page
    assert signed_in(world["south_manager"]).get(f"/console/runs/{run.pk}/").status_code == 404


def test_messages_name_the_saved_rule(world: dict[str, Any]) -> None:
    client = in_english(world["east_manager"])
    data = builder_post(world)
    page = html(preview(client, data))
    fingerprint = page.split('name="previewed" value="')[1].split('"')[0]
    response = client.post(
        "/console/rules/new/", {**data, "action": "save", "previewed": fingerprint}, follow=True
    )
    assert "The rule «浙江客户给 A» is saved." in messages_of(response)


def test_a_new_customers_run_shows_to_the_managers_of_its_pool_only(
    world: dict[str, Any],
) -> None:
    AssignmentRule.objects.create(
        name="全部给 B", pool=world["east_pool"], target={"user": world["rep_b"].pk}
    )
    from highseas.intake import creation as intake

    intake.create_customer(
        actor=world["admin"], fields={"name": "新客户", "kind": "company"}, pool=world["east_pool"]
    )
    run = AssignmentRun.objects.get(trigger="create")
    assert run.pool is None and run.assigned == 1
    east = html(signed_in(world["east_manager"]).get("/console/runs/"))
    south = html(signed_in(world["south_manager"]).get("/console/runs/"))
    assert f'data-run="{run.pk}"' in east and f'data-run="{run.pk}"' not in south
    assert signed_in(world["south_manager"]).get(f"/console/runs/{run.pk}/").status_code == 404
