"""Tasks and comments on the web (Django test client): the customer page's cards, 我的任务,
and each post, including the refusals that leave no trace."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from highseas.customers.models import Comment, Customer, Task
from highseas.notify.models import Notification
from tests.web.pages import html, messages_of, signed_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def owned(org: dict[str, Any], make_customer: Callable[..., Customer]) -> Customer:
    return make_customer(org["admin"], owner=org["rep_a"], name="东方贸易有限公司")


@pytest.fixture
def pooled(org: dict[str, Any], make_customer: Callable[..., Customer]) -> Customer:
    return make_customer(org["admin"], pool=org["east_pool"], name="公海客户有限公司")


def test_my_tasks_is_in_the_top_navigation(org: dict[str, Any]) -> None:
    assert 'href="/tasks/"' in html(signed_in(org["rep_a"]).get("/"))


def test_the_customer_page_offers_a_manager_the_subtree_as_assignees(
    org: dict[str, Any], owned: Customer
) -> None:
    page = html(signed_in(org["east_manager"]).get(f"/customers/{owned.pk}/"))
    assert 'id="tasks"' in page and 'id="comments"' in page
    assert "data-add-task" in page and "data-post-comment" in page
    assert "REP_B" in page and "REP_C" not in page


def test_a_masked_viewer_gets_neither_forms_nor_comments(
    org: dict[str, Any], pooled: Customer
) -> None:
    Comment.objects.create(customer=pooled, author=org["admin"], body="内部价格备注")
    page = html(signed_in(org["rep_a"]).get(f"/customers/{pooled.pk}/"))
    assert "内部价格备注" not in page
    assert "data-add-task" not in page and "data-post-comment" not in page


def test_a_manager_gives_a_rep_a_task_from_the_customer_page(
    org: dict[str, Any], owned: Customer
) -> None:
    response = signed_in(org["east_manager"]).post(
        f"/customers/{owned.pk}/tasks/",
        {
            "title": "寄送合同",
            "assignee": org["rep_b"].pk,
            "due_at": "2030-01-02T10:00",
            "priority": "high",
        },
        follow=True,
    )
    task = Task.objects.get()
    assert (task.title, task.assignee, task.customer, task.priority) == (
        "寄送合同",
        org["rep_b"],
        owned,
        "high",
    )
    assert any("REP_B" in m for m in messages_of(response))
    assert "寄送合同" in html(response)


def test_a_rep_cannot_give_a_task_to_a_colleague(org: dict[str, Any], owned: Customer) -> None:
    response = signed_in(org["rep_a"]).post(
        f"/customers/{owned.pk}/tasks/",
        {"title": "x", "assignee": org["rep_b"].pk, "priority": "normal"},
        follow=True,
    )
    assert response.status_code == 200
    assert messages_of(response)
    assert not Task.objects.exists()


def test_a_task_on_a_pooled_customer_seen_masked_is_refused(
    org: dict[str, Any], pooled: Customer
) -> None:
    response = signed_in(org["rep_a"]).post(
        f"/customers/{pooled.pk}/tasks/",
        {"title": "x", "assignee": org["rep_a"].pk, "priority": "normal"},
        follow=True,
    )
    assert response.status_code == 200
    assert not Task.objects.exists()


def test_a_comment_with_a_mention_is_posted_highlighted_and_notified(
    org: dict[str, Any], owned: Customer, django_capture_on_commit_callbacks: Any
) -> None:
    client = signed_in(org["rep_a"])
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            f"/customers/{owned.pk}/comments/", {"body": "@mgr_east 请审批报价"}, follow=True
        )
    page = html(response)
    assert '<mark class="mention">@mgr_east</mark>' in page
    assert Notification.objects.get().recipient == org["east_manager"]


def test_a_masked_viewer_cannot_post_a_comment(org: dict[str, Any], pooled: Customer) -> None:
    response = signed_in(org["rep_a"]).post(
        f"/customers/{pooled.pk}/comments/", {"body": "hi"}, follow=True
    )
    assert response.status_code == 200
    assert not Comment.objects.exists()


def test_another_teams_customer_is_404_for_posts(org: dict[str, Any], owned: Customer) -> None:
    client = signed_in(org["rep_c"])
    assert client.post(f"/customers/{owned.pk}/comments/", {"body": "hi"}).status_code == 404
    assert client.post(f"/customers/{owned.pk}/tasks/", {"title": "x"}).status_code == 404
    assert not Comment.objects.exists() and not Task.objects.exists()


@pytest.fixture
def given(org: dict[str, Any], owned: Customer) -> dict[str, Task]:
    now = timezone.now()

    def make(title: str, **fields: Any) -> Task:
        return Task.objects.create(
            title=title, assignee=org["rep_b"], created_by=org["east_manager"], **fields
        )

    return {
        "later": make("下周拜访", due_at=now + timedelta(days=7), customer=owned),
        "overdue": make("已逾期回访", due_at=now - timedelta(days=1)),
        "done": make("已完成的", done_at=now),
    }


def test_my_tasks_lists_overdue_first_and_hides_done(
    org: dict[str, Any], given: dict[str, Task]
) -> None:
    page = html(signed_in(org["rep_b"]).get("/tasks/"))
    assert page.index("已逾期回访") < page.index("下周拜访")
    assert "已完成的" not in page
    assert "东方贸易有限公司" in page
    assert "已完成的" in html(signed_in(org["rep_b"]).get("/tasks/?show=done"))


def test_the_assignee_marks_a_task_done_on_my_tasks(
    org: dict[str, Any], given: dict[str, Task]
) -> None:
    client = signed_in(org["rep_b"])
    response = client.post(
        f"/tasks/{given['overdue'].pk}/done/", {"done": "1", "next": "/tasks/"}, follow=True
    )
    assert f'data-task="{given["overdue"].pk}"' not in html(response)
    assert "已逾期回访" in messages_of(response)[0]
    given["overdue"].refresh_from_db()
    assert given["overdue"].done_at is not None


def test_someone_else_cannot_toggle_a_task(org: dict[str, Any], given: dict[str, Task]) -> None:
    for who in ("rep_a", "rep_c", "south_manager"):
        signed_in(org[who]).post(f"/tasks/{given['overdue'].pk}/done/", {"done": "1"})
    given["overdue"].refresh_from_db()
    assert given["overdue"].done_at is None


def test_a_manager_switches_to_the_teams_tasks(org: dict[str, Any], given: dict[str, Task]) -> None:
    client = signed_in(org["east_manager"])
    assert "已逾期回访" not in html(client.get("/tasks/"))
    team = html(client.get("/tasks/?scope=team"))
    assert "已逾期回访" in team and "下周拜访" in team
    assert "data-team-tasks" not in html(signed_in(org["rep_b"]).get("/tasks/"))
    assert "已逾期回访" in html(signed_in(org["rep_b"]).get("/tasks/?scope=team"))
    assert "下周拜访" not in html(signed_in(org["rep_a"]).get("/tasks/?scope=team"))


def test_a_task_about_a_customer_the_assignee_cannot_open_is_not_linked(
    org: dict[str, Any], given: dict[str, Task], owned: Customer
) -> None:
    link = f'href="/customers/{owned.pk}/"'
    page = html(signed_in(org["rep_b"]).get("/tasks/"))
    assert "东方贸易有限公司" in page and link not in page
    assert link in html(signed_in(org["east_manager"]).get("/tasks/?scope=team"))
