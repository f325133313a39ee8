"""Tasks and comments on customers: who may hand out work, who reads it, who is told.

The API (``tasks/``, ``customers/{id}/comments/``) and the web pages (the customer page, 我的任务)
call these services alone; each takes the viewer and decides permission and visibility itself.

Tasks
1. A task may be about a customer; its creator must see that customer in full
   (``Viewer.sees_in_full``); a customer the creator does not see at all is ``not_found``, one
   seen masked is ``permission_denied``.
2. Assignees (``assignable_users``): an admin assigns to anyone active; a manager to the
   active members of their team subtree and to themselves; a rep only to themselves. Anyone
   else is refused with ``permission_denied`` and nothing is written.
3. Reading (``visible_tasks``): an admin reads every task; a manager the tasks assigned to
   members of their subtree and those they created or hold; a rep those assigned to them or
   created by them. A task outside that is ``not_found``.
4. Editing (title, due time, priority, done): the creator, an admin, or a manager above the
   assignee. The assignee may only mark it done or open again.
5. A new task notifies its assignee (unless they assigned it to themselves), in its transaction.

Comments
6. Comments are free text like follow-ups: only a viewer who sees the customer in full reads
   them; a viewer who sees it masked gets none (the rule of ``customers.timeline``), and may
   not post (``permission_denied``).
7. A body has visible characters, no NUL, at most ``MAX_NOTE_LENGTH`` characters.
8. ``@username`` mentions resolve to active users who see the customer in full; each is
   recorded on the comment and notified in its transaction. A name that does not resolve, or a user
   who may not see the customer in full, is neither notified nor revealed (the body keeps the
   text as typed; only resolved mentions are highlighted).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from highseas.accounts.models import User
from highseas.accounts.visibility import Viewer
from highseas.customers.models import Comment, Customer, Task, TaskPriority
from highseas.customers.timeline import visible_customer
from highseas.engine.bounds import MAX_NOTE_LENGTH, has_nul, is_visible, moment_error, require_valid
from highseas.engine.errors import ErrorCode, HighSeasError
from highseas.notify.services import notify

MAX_TITLE_LENGTH = 200
COMMENT_LIMIT = 200
TASK_LIMIT = 500
MENTION = re.compile(r"@([A-Za-z0-9_.+-]*[A-Za-z0-9_+-])")
EDITABLE = frozenset({"title", "due_at", "priority", "done"})


# Tasks


def assignable_users(viewer: Viewer) -> QuerySet[User]:
    """Rule 2: whom this viewer may give a task to."""
    active = User.objects.filter(is_active=True)
    if viewer.is_admin:
        return active.order_by("username")
    query = Q(pk=viewer.user.pk)
    if viewer.subtree_team_ids:
        query |= Q(team_id__in=viewer.subtree_team_ids)
    return active.filter(query).order_by("username")


def visible_tasks(viewer: Viewer) -> QuerySet[Task]:
    """Rule 3: the tasks this viewer reads."""
    tasks = Task.objects.select_related("customer", "assignee", "created_by")
    if viewer.is_admin:
        return tasks.all()
    query = Q(assignee=viewer.user) | Q(created_by=viewer.user)
    if viewer.subtree_team_ids:
        query |= Q(assignee__team_id__in=viewer.subtree_team_ids)
    return tasks.filter(query)


def may_edit_task(viewer: Viewer, task: Task) -> bool:
    """Rule 4: who changes a task's title, due time and priority."""
    return (
        viewer.is_admin
        or (task.created_by_id is not None and task.created_by_id == viewer.user.pk)
        or task.assignee.team_id in viewer.subtree_team_ids
    )


def may_toggle_task(viewer: Viewer, task: Task) -> bool:
    return task.assignee_id == viewer.user.pk or may_edit_task(viewer, task)


def may_see_team_tasks(viewer: Viewer) -> bool:
    """Whether a "team" view of tasks means more than one's own (managers and admins)."""
    return viewer.is_manager_or_admin


def may_assign_on(viewer: Viewer, customer: Customer) -> bool:
    """Rule 1, for pages that offer a create form."""
    return viewer.sees_in_full(customer)


def _task_errors(fields: Mapping[str, Any]) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    if "title" in fields:
        title = str(fields["title"] or "")
        if has_nul(title) or not is_visible(title):
            errors["title"] = ["visible characters"]
        elif len(title) > MAX_TITLE_LENGTH:
            errors["title"] = [f"at most {MAX_TITLE_LENGTH} characters"]
    if fields.get("due_at") is not None and (error := moment_error(fields["due_at"])):
        errors["due_at"] = [error]
    if "priority" in fields and fields["priority"] not in TaskPriority.values:
        errors["priority"] = ["one of " + ", ".join(TaskPriority.values)]
    return errors


def _customer_in_full(viewer: Viewer, customer_id: int) -> Customer:
    customer = visible_customer(viewer, customer_id)
    if not viewer.sees_in_full(customer):
        raise HighSeasError(
            ErrorCode.PERMISSION_DENIED,
            _("Only someone who sees this customer in full may do that."),
        )
    return customer


@transaction.atomic
def create_task(
    viewer: Viewer,
    *,
    title: str,
    customer_id: int | None = None,
    assignee_id: int | None = None,
    due_at: datetime | None = None,
    priority: str = TaskPriority.NORMAL,
    done: bool = False,
    now: datetime | None = None,
) -> Task:
    """Rules 1, 2 and 5 (a task created done is recorded done now)."""
    require_valid(_task_errors({"title": title, "due_at": due_at, "priority": priority}))
    customer = _customer_in_full(viewer, customer_id) if customer_id is not None else None
    assignee = assignable_users(viewer).filter(pk=assignee_id or viewer.user.pk).first()
    if assignee is None:
        raise HighSeasError(
            ErrorCode.PERMISSION_DENIED,
            _("You may not give a task to that user."),
            errors={"assignee": ["not assignable"]},
        )
    task = Task.objects.create(
        customer=customer,
        title=title.strip(),
        assignee=assignee,
        created_by=viewer.user,
        due_at=due_at,
        priority=priority,
        done_at=(now or timezone.now()) if done else None,
    )
    if assignee.pk != viewer.user.pk:
        notify(
            assignee.pk,
            "task_assigned",
            _("New task: %(task)s") % {"task": task.title[:150]},
            _("From %(user)s.") % {"user": viewer.user.label},
            customer.pk if customer else None,
        )
    return task


def task_of(viewer: Viewer, task_id: int) -> Task:
    task = visible_tasks(viewer).filter(pk=task_id).first()
    if task is None:
        raise HighSeasError(ErrorCode.NOT_FOUND, _("No such task."))
    return task


@transaction.atomic
def update_task(
    viewer: Viewer, task_id: int, changes: Mapping[str, Any], *, now: datetime | None = None
) -> Task:
    """Rule 4: change title, due time, priority or done (``done``: true or false)."""
    now = now or timezone.now()
    unknown = set(changes) - EDITABLE
    if unknown:
        require_valid({name: ["not editable"] for name in sorted(unknown)})
    require_valid(_task_errors(changes))
    visible = visible_tasks(viewer).filter(pk=task_id).values_list("pk", flat=True)
    task = (
        Task.objects.select_for_update(of=("self",))
        .select_related("customer", "assignee", "created_by")
        .filter(pk__in=list(visible))
        .first()
    )
    if task is None:
        raise HighSeasError(ErrorCode.NOT_FOUND, _("No such task."))
    if set(changes) - {"done"} and not may_edit_task(viewer, task):
        raise HighSeasError(
            ErrorCode.PERMISSION_DENIED, _("You may only mark this task done or open.")
        )
    if not may_toggle_task(viewer, task):
        raise HighSeasError(ErrorCode.PERMISSION_DENIED, _("You may not change this task."))
    fields: list[str] = []
    if "title" in changes:
        task.title = str(changes["title"]).strip()
        fields.append("title")
    if "due_at" in changes:
        task.due_at = changes["due_at"]
        fields.append("due_at")
    if "priority" in changes:
        task.priority = changes["priority"]
        fields.append("priority")
    if "done" in changes:
        if changes["done"] and task.done_at is None:
            task.done_at = now
        elif not changes["done"]:
            task.done_at = None
        fields.append("done_at")
    if fields:
        task.save(update_fields=fields)
    return task


def complete_task(
    viewer: Viewer, task_id: int, *, done: bool = True, now: datetime | None = None
) -> Task:
    return update_task(viewer, task_id, {"done": done}, now=now)


def list_tasks(
    viewer: Viewer,
    *,
    assignee_id: int | None = None,
    customer_id: int | None = None,
    done: bool | None = None,
    overdue: bool | None = None,
    mine: bool = False,
    now: datetime | None = None,
) -> list[Task]:
    """The tasks this viewer reads, filtered; open before done, overdue first, then by due
    time (none last), newest first among equals."""
    now = now or timezone.now()
    tasks = visible_tasks(viewer)
    if mine:
        tasks = tasks.filter(assignee=viewer.user)
    if assignee_id is not None:
        tasks = tasks.filter(assignee_id=assignee_id)
    if customer_id is not None:
        tasks = tasks.filter(customer_id=customer_id)
    if done is not None:
        tasks = tasks.filter(done_at__isnull=not done)
    is_overdue = Q(done_at__isnull=True, due_at__lt=now)
    if overdue is True:
        tasks = tasks.filter(is_overdue)
    elif overdue is False:
        tasks = tasks.exclude(is_overdue)
    rows = list(tasks.order_by("-created_at", "-pk")[:TASK_LIMIT])
    far = datetime.max.replace(tzinfo=now.tzinfo)
    rows.sort(key=lambda t: (t.done_at is not None, t.due_at or far))
    return rows


def is_overdue(task: Task, now: datetime) -> bool:
    return task.done_at is None and task.due_at is not None and task.due_at < now


def openable_customer_ids(viewer: Viewer, tasks: list[Task]) -> set[int]:
    """Which of the tasks' customers this viewer may open (a task given by a manager may be
    about a customer its assignee does not see: its name is shown, its page is not linked)."""
    ids = {task.customer_id for task in tasks if task.customer_id is not None}
    return set(viewer.customers().filter(pk__in=ids).values_list("pk", flat=True))


def customer_tasks(viewer: Viewer, customer_id: int) -> list[Task]:
    """The tasks on one customer that this viewer reads (none for a masked viewer)."""
    customer = visible_customer(viewer, customer_id)
    if not viewer.sees_in_full(customer):
        return []
    return list_tasks(viewer, customer_id=customer.pk)


# Comments


def comments(viewer: Viewer, customer_id: int, *, limit: int = COMMENT_LIMIT) -> list[Comment]:
    """Rule 6: the latest comments, newest first (empty for a masked viewer)."""
    customer = visible_customer(viewer, customer_id)
    if not viewer.sees_in_full(customer):
        return []
    return list(
        Comment.objects.filter(customer=customer)
        .select_related("author")
        .prefetch_related("mentions")
        .order_by("-created_at", "-pk")[:limit]
    )


def may_comment(viewer: Viewer, customer: Customer) -> bool:
    return viewer.sees_in_full(customer)


def _body_errors(body: str) -> dict[str, list[str]]:
    if has_nul(body) or not is_visible(body):
        return {"body": ["visible characters"]}
    if len(body) > MAX_NOTE_LENGTH:
        return {"body": [f"at most {MAX_NOTE_LENGTH} characters"]}
    return {}


def mentioned_users(customer: Customer, body: str, author: User) -> list[User]:
    """Rule 8: the active users named ``@username`` in ``body`` who see the customer in full."""
    names = {match.group(1) for match in MENTION.finditer(body)}
    if not names:
        return []
    candidates = (
        User.objects.filter(username__in=names, is_active=True)
        .exclude(pk=author.pk)
        .select_related("team")
        .order_by("username")
    )
    return [user for user in candidates if Viewer(user).sees_in_full(customer)]


@transaction.atomic
def add_comment(viewer: Viewer, customer_id: int, body: str) -> Comment:
    """Rules 6–8."""
    require_valid(_body_errors(body))
    customer = _customer_in_full(viewer, customer_id)
    comment = Comment.objects.create(customer=customer, author=viewer.user, body=body.strip())
    mentioned = mentioned_users(customer, comment.body, viewer.user)
    if mentioned:
        comment.mentions.set(mentioned)
    for user in mentioned:
        notify(
            user.pk,
            "mention",
            _("%(user)s mentioned you on %(customer)s")
            % {"user": viewer.user.label[:60], "customer": customer.name[:100]},
            comment.body[:1000],
            customer.pk,
        )
    return comment


@dataclass(frozen=True)
class Segment:
    text: str
    mention: bool = False


def comment_segments(comment: Comment) -> list[Segment]:
    """The body cut into plain text and resolved mentions (for highlighting)."""
    resolved = {user.username for user in comment.mentions.all()}
    segments: list[Segment] = []
    position = 0
    for match in MENTION.finditer(comment.body):
        if match.group(1) not in resolved:
            continue
        if match.start() > position:
            segments.append(Segment(comment.body[position : match.start()]))
        segments.append(Segment(match.group(0), mention=True))
        position = match.end()
    if position < len(comment.body):
        segments.append(Segment(comment.body[position:]))
    return segments
