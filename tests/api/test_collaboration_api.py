"""Tasks and comments over the API: shapes, filters, and every refusal leaving no trace."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from highseas.accounts.models import User
from highseas.customers.models import Comment, Customer, Task
from highseas.notify.models import Notification

pytestmark = pytest.mark.django_db

Api = Callable[[User], APIClient]


@pytest.fixture
def owned(org: dict[str, Any], make_customer: Callable[..., Customer]) -> Customer:
    return make_customer(org["admin"], owner=org["rep_a"], name="东方贸易有限公司")


@pytest.fixture
def pooled(org: dict[str, Any], make_customer: Callable[..., Customer]) -> Customer:
    return make_customer(org["admin"], pool=org["east_pool"])


def new_task(api: Api, user: User, **fields: Any) -> Any:
    return api(user).post("/api/v1/tasks/", {"title": "寄送合同", **fields}, format="json")


def test_a_manager_creates_a_task_for_a_rep(
    org: dict[str, Any], owned: Customer, api: Api, django_capture_on_commit_callbacks: Any
) -> None:
    due = timezone.now() + timedelta(days=1)
    with django_capture_on_commit_callbacks(execute=True):
        response = new_task(
            api,
            org["east_manager"],
            customer=owned.pk,
            assignee=org["rep_b"].pk,
            due_at=due.isoformat(),
            priority="high",
        )
    assert response.status_code == 201, response.content
    body = response.json()
    assert {k: body[k] for k in ("customer", "assignee", "title", "priority", "done")} == {
        "customer": owned.pk,
        "assignee": org["rep_b"].pk,
        "title": "寄送合同",
        "priority": "high",
        "done": False,
    }
    assert body["customer_name"] == "东方贸易有限公司"
    assert Notification.objects.get().recipient == org["rep_b"]


def test_a_task_defaults_to_the_caller_and_normal_priority(org: dict[str, Any], api: Api) -> None:
    response = new_task(api, org["rep_a"])
    assert response.status_code == 201, response.content
    assert (response.json()["assignee"], response.json()["priority"]) == (
        org["rep_a"].pk,
        "normal",
    )


def test_a_task_may_be_recorded_done(org: dict[str, Any], api: Api) -> None:
    response = new_task(api, org["rep_a"], done=True)
    assert response.status_code == 201, response.content
    assert response.json()["done"] is True
    assert Task.objects.get().done_at is not None


@pytest.mark.parametrize(
    ("who", "fields", "status", "code"),
    [
        ("rep_a", {"assignee": "rep_b"}, 403, "permission_denied"),
        ("east_manager", {"assignee": "rep_c"}, 403, "permission_denied"),
        ("rep_c", {"customer": "owned"}, 404, "not_found"),
        ("rep_a", {"customer": "pooled"}, 403, "permission_denied"),
        ("rep_a", {"title": " "}, 400, "validation_error"),
        ("rep_a", {"priority": "urgent"}, 400, "validation_error"),
    ],
)
def test_a_task_the_caller_may_not_create_leaves_no_trace(
    org: dict[str, Any],
    owned: Customer,
    pooled: Customer,
    api: Api,
    who: str,
    fields: dict[str, str],
    status: int,
    code: str,
) -> None:
    values = {
        "customer": {"owned": owned.pk, "pooled": pooled.pk},
        "assignee": {name: org[name].pk for name in ("rep_b", "rep_c")},
    }
    payload = {k: values[k][v] if k in values else v for k, v in fields.items()}
    response = new_task(api, org[who], **payload)
    assert (response.status_code, response.json()["code"]) == (status, code)
    assert not Task.objects.exists()
    assert not Notification.objects.exists()


@pytest.fixture
def assigned(org: dict[str, Any], owned: Customer) -> Task:
    return Task.objects.create(
        title="b的任务",
        customer=owned,
        assignee=org["rep_b"],
        created_by=org["east_manager"],
        due_at=timezone.now() - timedelta(hours=1),
    )


def test_tasks_are_listed_with_filters(org: dict[str, Any], assigned: Task, api: Api) -> None:
    Task.objects.create(title="a自己", assignee=org["rep_a"], created_by=org["rep_a"])
    client = api(org["east_manager"])

    def titles(query: str) -> list[str]:
        response = client.get(f"/api/v1/tasks/{query}")
        assert response.status_code == 200, response.content
        return [row["title"] for row in response.json()]

    assert titles("") == ["b的任务", "a自己"]
    assert titles(f"?assignee={org['rep_a'].pk}") == ["a自己"]
    assert titles(f"?customer={assigned.customer_id}") == ["b的任务"]
    assert titles("?overdue=true") == ["b的任务"]
    assert titles("?done=true") == []
    assert [row["title"] for row in api(org["rep_a"]).get("/api/v1/tasks/").json()] == ["a自己"]
    assert api(org["rep_c"]).get("/api/v1/tasks/").json() == []


def test_a_bad_filter_is_a_validation_error(org: dict[str, Any], api: Api) -> None:
    response = api(org["rep_a"]).get("/api/v1/tasks/?assignee=abc")
    assert (response.status_code, response.json()["code"]) == (400, "validation_error")


def test_the_assignee_marks_a_task_done(org: dict[str, Any], assigned: Task, api: Api) -> None:
    response = api(org["rep_b"]).patch(
        f"/api/v1/tasks/{assigned.pk}/", {"done": True}, format="json"
    )
    assert response.status_code == 200, response.content
    assert response.json()["done"] is True
    assigned.refresh_from_db()
    assert assigned.done_at is not None


def test_the_assignee_may_not_retitle_a_task(org: dict[str, Any], assigned: Task, api: Api) -> None:
    response = api(org["rep_b"]).patch(
        f"/api/v1/tasks/{assigned.pk}/", {"title": "改了", "done": True}, format="json"
    )
    assert (response.status_code, response.json()["code"]) == (403, "permission_denied")
    assigned.refresh_from_db()
    assert (assigned.title, assigned.done_at) == ("b的任务", None)


def test_someone_who_does_not_read_a_task_gets_404(
    org: dict[str, Any], assigned: Task, api: Api
) -> None:
    for method in ("get", "patch"):
        response = getattr(api(org["rep_c"]), method)(
            f"/api/v1/tasks/{assigned.pk}/", {"done": True}, format="json"
        )
        assert response.status_code == 404
    assigned.refresh_from_db()
    assert assigned.done_at is None


def test_the_creator_changes_due_and_priority(
    org: dict[str, Any], assigned: Task, api: Api
) -> None:
    response = api(org["east_manager"]).patch(
        f"/api/v1/tasks/{assigned.pk}/", {"priority": "low", "due_at": None}, format="json"
    )
    assert response.status_code == 200, response.content
    assert (response.json()["priority"], response.json()["due_at"]) == ("low", None)


# Comments


def test_a_comment_mentions_and_notifies(
    org: dict[str, Any], owned: Customer, api: Api, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        response = api(org["rep_a"]).post(
            f"/api/v1/customers/{owned.pk}/comments/",
            {"body": "@mgr_east 请帮忙看报价，@rep_c 不该知道"},
            format="json",
        )
    assert response.status_code == 201, response.content
    assert [m["username"] for m in response.json()["mentions"]] == ["mgr_east"]
    assert list(Notification.objects.values_list("recipient", "kind")) == [
        (org["east_manager"].pk, "mention")
    ]
    listed = api(org["east_manager"]).get(f"/api/v1/customers/{owned.pk}/comments/").json()
    assert [c["body"] for c in listed] == ["@mgr_east 请帮忙看报价，@rep_c 不该知道"]


def test_a_masked_viewer_reads_no_comments_and_may_not_post(
    org: dict[str, Any], pooled: Customer, api: Api
) -> None:
    Comment.objects.create(customer=pooled, author=org["admin"], body="内部")
    client = api(org["rep_a"])
    assert client.get(f"/api/v1/customers/{pooled.pk}/comments/").json() == []
    response = client.post(f"/api/v1/customers/{pooled.pk}/comments/", {"body": "hi"})
    assert (response.status_code, response.json()["code"]) == (403, "permission_denied")
    assert Comment.objects.count() == 1


def test_comments_of_an_invisible_customer_are_404(
    org: dict[str, Any], owned: Customer, api: Api
) -> None:
    client = api(org["rep_c"])
    assert client.get(f"/api/v1/customers/{owned.pk}/comments/").status_code == 404
    assert client.post(f"/api/v1/customers/{owned.pk}/comments/", {"body": "x"}).status_code == 404
    assert not Comment.objects.exists()


@pytest.mark.parametrize("body", ["", "   ", "x" * 10_001])
def test_a_comment_body_is_bounded(
    org: dict[str, Any], owned: Customer, api: Api, body: str
) -> None:
    response = api(org["rep_a"]).post(
        f"/api/v1/customers/{owned.pk}/comments/", {"body": body}, format="json"
    )
    assert (response.status_code, response.json()["code"]) == (400, "validation_error")
    assert not Comment.objects.exists()
