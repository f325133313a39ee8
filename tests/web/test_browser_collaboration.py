"""Tasks and comments in a real browser: a manager hands a rep a task on a customer and the rep
completes it on 我的任务; a comment @mentions a colleague who finds it in their reminders."""

from __future__ import annotations

from typing import Any

import pytest

from highseas.customers.models import Task

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_manager_assigns_a_task_and_the_rep_completes_it(
    world: dict[str, Any], sign_in: Any, screenshot: Any
) -> None:
    customer = world["held_a"][0]
    manager = sign_in("mgr_east")
    base = "/".join(manager.url.split("/")[:3])
    manager.goto(f"{base}/customers/{customer.pk}/")
    manager.wait_for_selector("#tasks")
    manager.click("#tasks summary")
    manager.fill("#tasks input[name=title]", "周五前寄送合同")
    manager.select_option("#tasks select[name=assignee]", str(world["rep_a"].pk))
    manager.fill("#tasks input[name=due_at]", "2020-01-06T18:00")
    manager.select_option("#tasks select[name=priority]", "high")
    manager.click("[data-add-task]")
    manager.locator(".toast.success").last.wait_for()
    assert manager.locator("#tasks .task", has_text="周五前寄送合同").count() == 1
    screenshot(manager, "70-customer-task-given")
    task = Task.objects.get(title="周五前寄送合同")
    assert (task.assignee, task.created_by, task.priority) == (
        world["rep_a"],
        world["east_manager"],
        "high",
    )

    rep = sign_in("rep_a", width=390, height=844)
    rep.click('nav.topnav a[href="/tasks/"]')
    row = rep.locator(f'[data-task="{task.pk}"]')
    row.wait_for()
    assert "is-overdue" in (row.get_attribute("class") or "")
    assert rep.locator(".task").first.get_attribute("data-task") == str(task.pk)
    screenshot(rep, "71-my-tasks-phone")
    row.locator("[data-toggle-task]").click()
    rep.locator(".toast.success").last.wait_for()
    assert rep.locator(f'[data-task="{task.pk}"]').count() == 0
    task.refresh_from_db()
    assert task.done_at is not None
    rep.click('.tabs a[href*="show=done"]')
    rep.locator(f'[data-task="{task.pk}"].is-done').wait_for()
    screenshot(rep, "72-my-tasks-done-phone")
    rep.goto(f"{base}/customers/{customer.pk}/")
    rep.click("#tasks summary")
    options = rep.locator("#tasks select[name=assignee] option").all_inner_texts()
    assert options == ["REP_A"]  # a rep gives tasks only to themselves
    screenshot(rep, "77-customer-task-form-phone")

    manager.click('nav.topnav a[href="/tasks/"]')
    manager.click("[data-team-tasks]")
    manager.click('.tabs a[href*="show=done"]')
    manager.locator(f'[data-task="{task.pk}"].is-done').wait_for()
    screenshot(manager, "73-team-tasks")


def test_a_comment_mentions_a_colleague_who_is_notified(
    world: dict[str, Any], sign_in: Any, screenshot: Any
) -> None:
    customer = world["held_a"][0]
    rep = sign_in("rep_a")
    base = "/".join(rep.url.split("/")[:3])
    rep.goto(f"{base}/customers/{customer.pk}/")
    rep.fill("#comments textarea[name=body]", "@mgr_east 客户要求降价 8%，请您审批报价")
    rep.click("[data-post-comment]")
    rep.locator(".toast.success").last.wait_for()
    mention = rep.locator("#comments mark.mention")
    assert mention.inner_text() == "@mgr_east"
    screenshot(rep, "74-comment-posted")

    manager = sign_in("mgr_east", width=390, height=844)
    manager.goto(f"{base}/notifications/")
    item = manager.locator(".inbox li.kind-mention").first
    item.wait_for()
    assert customer.name in item.inner_text()
    assert "降价 8%" in item.inner_text()
    screenshot(manager, "75-mention-notified-phone")
    item.locator("a", has_text=customer.name).click()
    manager.locator("#comments mark.mention").wait_for()
    screenshot(manager, "76-customer-comments-phone")
