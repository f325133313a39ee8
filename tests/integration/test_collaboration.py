"""Tasks and comments: who may assign, read, edit and mention, and who is told."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from highseas.accounts.models import User
from highseas.accounts.visibility import Viewer
from highseas.customers.models import Comment, Customer, Task
from highseas.engine.errors import ErrorCode, HighSeasError
from highseas.notify.models import Notification
from highseas.notify.reminders import send_due_reminders
from highseas.pools import collaboration

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def owned(org: dict[str, Any], make_customer: Callable[..., Customer]) -> Customer:
    """rep_a's customer (east team)."""
    return make_customer(org["admin"], owner=org["rep_a"], name="东方贸易有限公司")


@pytest.fixture
def pooled(org: dict[str, Any], make_customer: Callable[..., Customer]) -> Customer:
    return make_customer(org["admin"], pool=org["east_pool"], name="公海客户有限公司")


def inbox(user: User) -> list[tuple[str, str]]:
    return list(
        Notification.objects.filter(recipient=user).order_by("id").values_list("kind", "title")
    )


def refused(code: ErrorCode, call: Callable[[], Any]) -> None:
    with pytest.raises(HighSeasError) as error:
        call()
    assert error.value.code == code


# Creating


def test_a_manager_assigns_a_task_on_a_subtree_customer_to_a_rep_who_is_notified(
    org: dict[str, Any], owned: Customer, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        task = collaboration.create_task(
            Viewer(org["east_manager"]),
            title="寄送合同",
            customer_id=owned.pk,
            assignee_id=org["rep_b"].pk,
            due_at=NOW,
            priority="high",
        )
    task.refresh_from_db()
    assert (task.customer, task.assignee, task.created_by, task.priority, task.due_at) == (
        owned,
        org["rep_b"],
        org["east_manager"],
        "high",
        NOW,
    )
    assert callbacks == []  # told in the task's own transaction
    [(kind, title)] = inbox(org["rep_b"])
    assert kind == "task_assigned" and "寄送合同" in title


def test_a_task_assigned_to_oneself_notifies_nobody(
    org: dict[str, Any], owned: Customer, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        collaboration.create_task(Viewer(org["rep_a"]), title="回访", customer_id=owned.pk)
    assert Task.objects.get().assignee == org["rep_a"]
    assert not Notification.objects.exists()


def test_a_rep_may_assign_only_to_themselves(org: dict[str, Any], owned: Customer) -> None:
    refused(
        ErrorCode.PERMISSION_DENIED,
        lambda: collaboration.create_task(
            Viewer(org["rep_a"]), title="x", customer_id=owned.pk, assignee_id=org["rep_b"].pk
        ),
    )
    assert not Task.objects.exists()


def test_a_manager_may_not_assign_outside_their_subtree(
    org: dict[str, Any], owned: Customer
) -> None:
    refused(
        ErrorCode.PERMISSION_DENIED,
        lambda: collaboration.create_task(
            Viewer(org["east_manager"]), title="x", assignee_id=org["rep_c"].pk
        ),
    )
    assert not Task.objects.exists()


def test_nobody_assigns_to_an_inactive_user(org: dict[str, Any]) -> None:
    User.objects.filter(pk=org["rep_b"].pk).update(is_active=False)
    refused(
        ErrorCode.PERMISSION_DENIED,
        lambda: collaboration.create_task(
            Viewer(org["admin"]), title="x", assignee_id=org["rep_b"].pk
        ),
    )
    assert not Task.objects.exists()


def test_an_admin_assigns_to_anyone_active(org: dict[str, Any], owned: Customer) -> None:
    task = collaboration.create_task(
        Viewer(org["admin"]), title="x", customer_id=owned.pk, assignee_id=org["rep_c"].pk
    )
    assert task.assignee == org["rep_c"]


def test_a_task_on_a_customer_one_sees_masked_is_refused(
    org: dict[str, Any], pooled: Customer
) -> None:
    refused(
        ErrorCode.PERMISSION_DENIED,
        lambda: collaboration.create_task(Viewer(org["rep_a"]), title="x", customer_id=pooled.pk),
    )
    assert not Task.objects.exists()


def test_a_task_on_a_customer_one_does_not_see_is_not_found(
    org: dict[str, Any], owned: Customer
) -> None:
    refused(
        ErrorCode.NOT_FOUND,
        lambda: collaboration.create_task(Viewer(org["rep_c"]), title="x", customer_id=owned.pk),
    )
    assert not Task.objects.exists()


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"title": "   "}, "title"),
        ({"title": "x" * 201}, "title"),
        ({"title": "a\x00b"}, "title"),
        ({"title": "x", "priority": "urgent"}, "priority"),
        ({"title": "x", "due_at": datetime(2200, 1, 1, tzinfo=UTC)}, "due_at"),
    ],
)
def test_task_fields_are_bounded(org: dict[str, Any], fields: dict[str, Any], field: str) -> None:
    with pytest.raises(HighSeasError) as error:
        collaboration.create_task(Viewer(org["rep_a"]), **fields)
    assert error.value.code == ErrorCode.VALIDATION_ERROR
    assert set(error.value.facts["errors"]) == {field}
    assert not Task.objects.exists()


# Reading


@pytest.fixture
def tasks(org: dict[str, Any], owned: Customer) -> dict[str, Task]:
    def make(creator: str, assignee: str, title: str, **fields: Any) -> Task:
        return Task.objects.create(
            title=title, created_by=org[creator], assignee=org[assignee], **fields
        )

    return {
        "a_own": make("rep_a", "rep_a", "a自己", customer=owned),
        "b_from_mgr": make("east_manager", "rep_b", "b的任务", due_at=NOW - timedelta(days=1)),
        "c_from_mgr": make("south_manager", "rep_c", "c的任务"),
    }


def titles(rows: list[Task]) -> list[str]:
    return [t.title for t in rows]


def test_a_rep_reads_tasks_assigned_to_or_created_by_them(
    org: dict[str, Any], tasks: dict[str, Task]
) -> None:
    assert titles(collaboration.list_tasks(Viewer(org["rep_a"]), now=NOW)) == ["a自己"]
    assert titles(collaboration.list_tasks(Viewer(org["rep_b"]), now=NOW)) == ["b的任务"]


def test_a_manager_reads_the_tasks_of_their_subtree(
    org: dict[str, Any], tasks: dict[str, Task]
) -> None:
    assert set(titles(collaboration.list_tasks(Viewer(org["east_manager"]), now=NOW))) == {
        "a自己",
        "b的任务",
    }
    assert titles(collaboration.list_tasks(Viewer(org["admin"]), overdue=True, now=NOW)) == [
        "b的任务"
    ]


def test_open_tasks_come_first_overdue_before_later_and_undated(
    org: dict[str, Any],
) -> None:
    viewer = Viewer(org["rep_a"])
    for title, due, done in [
        ("无期限", None, None),
        ("已完成", NOW - timedelta(days=9), NOW),
        ("明天", NOW + timedelta(days=1), None),
        ("已逾期", NOW - timedelta(days=2), None),
    ]:
        Task.objects.create(
            title=title, assignee=org["rep_a"], created_by=org["rep_a"], due_at=due, done_at=done
        )
    assert titles(collaboration.list_tasks(viewer, now=NOW)) == [
        "已逾期",
        "明天",
        "无期限",
        "已完成",
    ]
    assert titles(collaboration.list_tasks(viewer, done=True, now=NOW)) == ["已完成"]
    assert titles(collaboration.list_tasks(viewer, overdue=False, done=False, now=NOW)) == [
        "明天",
        "无期限",
    ]


def test_a_task_outside_ones_view_is_not_found(org: dict[str, Any], tasks: dict[str, Task]) -> None:
    refused(
        ErrorCode.NOT_FOUND,
        lambda: collaboration.complete_task(Viewer(org["rep_a"]), tasks["b_from_mgr"].pk),
    )
    assert Task.objects.get(pk=tasks["b_from_mgr"].pk).done_at is None


# Editing


def test_the_assignee_completes_and_reopens_a_task(
    org: dict[str, Any], tasks: dict[str, Task]
) -> None:
    viewer = Viewer(org["rep_b"])
    assert collaboration.complete_task(viewer, tasks["b_from_mgr"].pk, now=NOW).done_at == NOW
    again = collaboration.complete_task(viewer, tasks["b_from_mgr"].pk, now=NOW + timedelta(1))
    assert again.done_at == NOW
    assert collaboration.complete_task(viewer, tasks["b_from_mgr"].pk, done=False).done_at is None


def test_the_assignee_may_not_change_what_their_manager_set(
    org: dict[str, Any], tasks: dict[str, Task]
) -> None:
    refused(
        ErrorCode.PERMISSION_DENIED,
        lambda: collaboration.update_task(
            Viewer(org["rep_b"]), tasks["b_from_mgr"].pk, {"title": "改了", "done": True}
        ),
    )
    task = Task.objects.get(pk=tasks["b_from_mgr"].pk)
    assert (task.title, task.done_at) == ("b的任务", None)


def test_the_creator_edits_title_due_and_priority(
    org: dict[str, Any], tasks: dict[str, Task]
) -> None:
    task = collaboration.update_task(
        Viewer(org["east_manager"]),
        tasks["b_from_mgr"].pk,
        {"title": "新标题", "due_at": NOW, "priority": "low"},
    )
    task.refresh_from_db()
    assert (task.title, task.due_at, task.priority) == ("新标题", NOW, "low")


def test_an_unknown_field_is_refused(org: dict[str, Any], tasks: dict[str, Task]) -> None:
    with pytest.raises(HighSeasError) as error:
        collaboration.update_task(
            Viewer(org["admin"]), tasks["b_from_mgr"].pk, {"assignee": org["rep_a"].pk}
        )
    assert error.value.facts["errors"] == {"assignee": ["not editable"]}
    assert Task.objects.get(pk=tasks["b_from_mgr"].pk).assignee == org["rep_b"]


def test_a_task_due_still_reminds_its_assignee(org: dict[str, Any], owned: Customer) -> None:
    collaboration.create_task(
        Viewer(org["east_manager"]),
        title="寄送合同",
        customer_id=owned.pk,
        assignee_id=org["rep_b"].pk,
        due_at=NOW,
    )
    Notification.objects.all().delete()
    send_due_reminders(NOW + timedelta(minutes=30))
    assert [kind for kind, _title in inbox(org["rep_b"])] == ["task_due"]


# Comments


def test_a_comment_notifies_the_mentioned_who_see_the_customer_in_full(
    org: dict[str, Any], owned: Customer, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        comment = collaboration.add_comment(
            Viewer(org["rep_a"]),
            owned.pk,
            "@mgr_east 请看一下，@rep_b 也看看，@nobody 不存在，@rep_a 自己",
        )
    assert callbacks == []  # told in the comment's own transaction
    assert list(comment.mentions.all()) == [org["east_manager"]]
    assert [kind for kind, _title in inbox(org["east_manager"])] == ["mention"]
    assert not inbox(org["rep_b"])
    assert not inbox(org["rep_a"])


def test_an_inactive_user_is_not_mentioned(
    org: dict[str, Any], owned: Customer, django_capture_on_commit_callbacks: Any
) -> None:
    User.objects.filter(pk=org["east_manager"].pk).update(is_active=False)
    with django_capture_on_commit_callbacks(execute=True):
        comment = collaboration.add_comment(Viewer(org["rep_a"]), owned.pk, "@mgr_east 看看")
    assert not comment.mentions.exists()
    assert not Notification.objects.exists()


def test_comments_are_read_only_by_those_who_see_the_customer_in_full(
    org: dict[str, Any], pooled: Customer
) -> None:
    collaboration.add_comment(Viewer(org["admin"]), pooled.pk, "内部备注 13800138000")
    assert [c.body for c in collaboration.comments(Viewer(org["admin"]), pooled.pk)] == [
        "内部备注 13800138000"
    ]
    assert collaboration.comments(Viewer(org["rep_a"]), pooled.pk) == []
    refused(ErrorCode.NOT_FOUND, lambda: collaboration.comments(Viewer(org["rep_c"]), pooled.pk))


def test_a_masked_viewer_may_not_comment(org: dict[str, Any], pooled: Customer) -> None:
    refused(
        ErrorCode.PERMISSION_DENIED,
        lambda: collaboration.add_comment(Viewer(org["rep_a"]), pooled.pk, "hi"),
    )
    refused(
        ErrorCode.NOT_FOUND,
        lambda: collaboration.add_comment(Viewer(org["rep_c"]), pooled.pk, "hi"),
    )
    assert not Comment.objects.exists()


@pytest.mark.parametrize("body", ["", "   ", "a\x00b", "x" * 10_001])
def test_a_comment_body_is_bounded(org: dict[str, Any], owned: Customer, body: str) -> None:
    with pytest.raises(HighSeasError) as error:
        collaboration.add_comment(Viewer(org["rep_a"]), owned.pk, body)
    assert set(error.value.facts["errors"]) == {"body"}
    assert not Comment.objects.exists()


def test_only_resolved_mentions_are_highlighted(org: dict[str, Any], owned: Customer) -> None:
    comment = collaboration.add_comment(Viewer(org["rep_a"]), owned.pk, "请 @mgr_east 和 @rep_c 看")
    assert [(s.text, s.mention) for s in collaboration.comment_segments(comment)] == [
        ("请 ", False),
        ("@mgr_east", True),
        (" 和 @rep_c 看", False),
    ]
