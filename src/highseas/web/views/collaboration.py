"""Tasks and comments on the web: the customer page's two cards, 我的任务, and their posts.

Thin adapters over ``pools.collaboration``: it decides who may assign, read, toggle and
mention; these views parse the form, call it, and come back with a message.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django import forms
from django.contrib.auth.decorators import login_required
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from highseas.accounts.models import User
from highseas.accounts.visibility import Viewer
from highseas.customers.models import Customer, Task, TaskPriority
from highseas.engine.errors import HighSeasError
from highseas.pools import collaboration
from highseas.web import selectors
from highseas.web.forms import LocalDateTimeField
from highseas.web.refusals import plain_words
from highseas.web.responses import answer, back_to, viewer_of


class UserChoice(forms.ModelChoiceField):  # type: ignore[type-arg]
    def label_from_instance(self, obj: User) -> str:
        return obj.label


class TaskForm(forms.Form):
    title = forms.CharField(label=gettext_lazy("Task"), max_length=200)
    assignee = UserChoice(
        queryset=User.objects.none(), label=gettext_lazy("Assignee"), empty_label=None
    )
    due_at = LocalDateTimeField(label=gettext_lazy("Due"), required=False)
    priority = forms.ChoiceField(
        label=gettext_lazy("Priority"), choices=TaskPriority.choices, initial=TaskPriority.NORMAL
    )

    def __init__(self, data: Any, users: QuerySet[User], **kwargs: Any) -> None:
        super().__init__(data, **kwargs)
        self.fields["assignee"].queryset = users  # type: ignore[attr-defined]


class CommentForm(forms.Form):
    body = forms.CharField(
        label=gettext_lazy("Comment"),
        max_length=10_000,
        widget=forms.Textarea(
            attrs={"rows": 2, "placeholder": gettext_lazy("Write a comment; @username notifies")}
        ),
    )


def task_rows(viewer: Viewer, tasks: list[Task], now: datetime) -> list[dict[str, Any]]:
    openable = collaboration.openable_customer_ids(viewer, tasks)
    return [
        {
            "task": task,
            "customer_link": task.customer_id in openable,
            "overdue": collaboration.is_overdue(task, now),
            "may_toggle": collaboration.may_toggle_task(viewer, task),
        }
        for task in tasks
    ]


def customer_cards(viewer: Viewer, customer: Customer, now: datetime) -> dict[str, Any]:
    """The context of the customer page's tasks and comments cards."""
    may_assign = collaboration.may_assign_on(viewer, customer)
    users = collaboration.assignable_users(viewer)
    return {
        "tasks": task_rows(viewer, collaboration.customer_tasks(viewer, customer.pk), now),
        "may_assign": may_assign,
        "task_form": TaskForm(None, users, initial={"assignee": viewer.user.pk})
        if may_assign
        else None,
        "comments": [
            {"comment": c, "segments": collaboration.comment_segments(c)}
            for c in collaboration.comments(viewer, customer.pk)
        ],
        "may_comment": collaboration.may_comment(viewer, customer),
        "comment_form": CommentForm(None),
    }


def _first_error(form: forms.Form) -> str:
    return str(next(iter(form.errors.values()))[0])


@login_required
@require_POST
def add_task(request: HttpRequest, customer_id: int) -> HttpResponse:
    viewer = viewer_of(request)
    customer = selectors.visible_customer(viewer, customer_id)
    to = reverse("web:customer", args=[customer.pk]) + "#tasks"
    form = TaskForm(request.POST, collaboration.assignable_users(viewer))
    if not form.is_valid():
        return answer(request, ok=False, message=_first_error(form), to=to)
    data = form.cleaned_data
    try:
        task = collaboration.create_task(
            viewer,
            title=data["title"],
            customer_id=customer.pk,
            assignee_id=data["assignee"].pk,
            due_at=data["due_at"],
            priority=data["priority"],
        )
    except HighSeasError as refusal:
        return answer(request, ok=False, message=plain_words(refusal), to=to, code=refusal.code)
    return answer(
        request,
        ok=True,
        message=_("Task given to %(user)s.") % {"user": task.assignee.label},
        to=to,
    )


@login_required
@require_POST
def add_comment(request: HttpRequest, customer_id: int) -> HttpResponse:
    viewer = viewer_of(request)
    customer = selectors.visible_customer(viewer, customer_id)
    to = reverse("web:customer", args=[customer.pk]) + "#comments"
    form = CommentForm(request.POST)
    if not form.is_valid():
        return answer(request, ok=False, message=_first_error(form), to=to)
    try:
        comment = collaboration.add_comment(viewer, customer.pk, form.cleaned_data["body"])
    except HighSeasError as refusal:
        return answer(request, ok=False, message=plain_words(refusal), to=to, code=refusal.code)
    names = [user.label for user in comment.mentions.all()]
    if names:
        message = _("Comment posted; notified %(names)s.") % {"names": "、".join(names)}
    else:
        message = _("Comment posted.")
    return answer(request, ok=True, message=message, to=to)


@login_required
@require_POST
def toggle_task(request: HttpRequest, task_id: int) -> HttpResponse:
    viewer = viewer_of(request)
    to = back_to(request, reverse("web:tasks"))
    done = request.POST.get("done") == "1"
    try:
        task = collaboration.complete_task(viewer, task_id, done=done)
    except HighSeasError as refusal:
        return answer(request, ok=False, message=plain_words(refusal), to=to, code=refusal.code)
    if task.done_at is not None:
        message = _("Task done: %(task)s") % {"task": task.title}
    else:
        message = _("Task open again: %(task)s") % {"task": task.title}
    return answer(request, ok=True, message=message, to=to)


SHOW = ("open", "done", "all")


@login_required
def my_tasks(request: HttpRequest) -> HttpResponse:
    """我的任务: open first, overdue first; managers switch to their team's tasks."""
    viewer = viewer_of(request)
    now = timezone.now()
    may_team = collaboration.may_see_team_tasks(viewer)
    team = may_team and request.GET.get("scope") == "team"
    show = request.GET.get("show") or "open"
    show = show if show in SHOW else "open"
    done = {"open": False, "done": True, "all": None}[show]
    tasks = collaboration.list_tasks(viewer, mine=not team, done=done, now=now)
    rows = task_rows(viewer, tasks, now)
    context = {
        "section": "tasks",
        "rows": rows,
        "team": team,
        "may_team": may_team,
        "show": show,
        "overdue_count": sum(1 for row in rows if row["overdue"]),
        "here": request.get_full_path(),
    }
    return render(request, "web/collaboration/tasks.html", context)
