"""Assignment rules in the console: the list per pool, the editor with its condition builder
and dry-run preview, and the history of runs with their explanations.

Preview → confirm → save, as for pool policies: "preview" shows what the rule would do to
the pool's backlog now (``routing.drafts.preview_rule``: the save's own validation, a dry
run, nothing kept); "save" is offered with a fingerprint of exactly those values and saves
through ``routing.rules.save_rule``, the service of ``POST /api/v1/assignment-rules/``.
"""

from __future__ import annotations

import json
from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from highseas.engine.errors import HighSeasError
from highseas.routing import drafts, history, rules
from highseas.routing.models import AssignmentRule
from highseas.web.access import manager_required
from highseas.web.responses import viewer_of
from highseas.web.rule_builder import FIELD_LABELS, OP_LABELS, VALUE_CHOICES, describe
from highseas.web.rule_form import STRATEGY_LABELS, RuleForm, describe_target

NAV = {"section": "console", "tab": "rules"}


@manager_required
def rule_list(request: HttpRequest) -> HttpResponse:
    viewer = viewer_of(request)
    pools = list(drafts.rule_pools(viewer))
    listed = list(rules.rules_visible_to(viewer))
    names = drafts.target_names(viewer, [rule.target for rule in listed])
    by_pool: dict[int | None, list[dict[str, Any]]] = {}
    for rule in listed:
        by_pool.setdefault(rule.pool_id, []).append(
            {
                "rule": rule,
                "conditions": describe(rule.conditions),
                "target": describe_target(rule.target, names),
            }
        )
    sections = [(pool, by_pool.get(pool.pk, [])) for pool in pools]
    context = {
        **NAV,
        "sections": sections,
        "every_pool": by_pool.get(None, []),
        "may_edit_every_pool": viewer.is_admin,
        "not_admin": not viewer.is_admin,
    }
    return render(request, "web/console/rules.html", context)


def _editor_context(viewer: Any, form: RuleForm, rule: AssignmentRule | None) -> dict[str, Any]:
    return {
        **NAV,
        "rule": rule,
        "form": form,
        "pools": drafts.rule_pools(viewer),
        "users": drafts.target_users(viewer),
        "teams": drafts.target_teams(viewer),
        "target_pools": drafts.rule_pools(viewer),
        "weight_reps": drafts.team_members(viewer, form.target.team),
        "field_labels": FIELD_LABELS,
        "op_labels": OP_LABELS,
        "value_choices": VALUE_CHOICES,
        "strategies": STRATEGY_LABELS,
        "may_edit_every_pool": viewer.is_admin,
    }


@manager_required
def rule_edit(request: HttpRequest, rule_id: int | None = None) -> HttpResponse:
    viewer = viewer_of(request)
    rule = None
    if rule_id is not None:
        rule = rules.rules_visible_to(viewer).filter(pk=rule_id).first()
        if rule is None:
            raise Http404
    if request.method != "POST":
        form = RuleForm.of(rule) if rule else RuleForm(pool=_int(request.GET.get("pool")))
        return render(request, "web/console/rule_edit.html", _editor_context(viewer, form, rule))
    return _post(request, viewer, rule)


def _int(text: str | None) -> int | None:
    return int(text) if text and text.isdigit() else None


def _post(request: HttpRequest, viewer: Any, rule: AssignmentRule | None) -> HttpResponse:
    form = RuleForm.from_post(request.POST)
    action = request.POST.get("action", "preview")
    context = _editor_context(viewer, form, rule)
    if form.builder is not None and form.builder.change(action):
        return render(request, "web/console/rule_edit.html", context)
    if action == "refresh":
        return render(request, "web/console/rule_edit.html", context)
    if action == "json":
        form.conditions_json = _json_of(form)
        form.builder = None
        return render(request, "web/console/rule_edit.html", context)
    values = form.values({pool.pk: pool for pool in context["pools"]})
    if values is None:
        return render(request, "web/console/rule_edit.html", context, status=400)
    fingerprint = form.fingerprint(values)
    try:
        if action == "save" and request.POST.get("previewed") == fingerprint:
            saved = rules.save_rule(viewer, rule, values)
            messages.success(request, _("The rule «%(name)s» is saved.") % {"name": saved.name})
            return HttpResponseRedirect(reverse("web:rules"))
        context["changed_since_preview"] = action == "save"
        context["preview"] = drafts.preview_rule(viewer, rule, values)
        context["fingerprint"] = fingerprint
    except HighSeasError as error:
        form.place_errors(error.facts.get("errors") or {"": [error.detail]})
        return render(request, "web/console/rule_edit.html", context, status=400)
    return render(request, "web/console/rule_edit.html", context)


def _json_of(form: RuleForm) -> str:
    return json.dumps(form.conditions(), ensure_ascii=False, indent=2)


@manager_required
@require_POST
def rule_delete(request: HttpRequest, rule_id: int) -> HttpResponse:
    viewer = viewer_of(request)
    rule = rules.rules_visible_to(viewer).filter(pk=rule_id).first()
    if rule is None:
        raise Http404
    try:
        rules.delete_rule(viewer, rule)
    except HighSeasError as error:
        messages.error(request, error.detail)
    else:
        messages.success(request, _("The rule «%(name)s» is deleted.") % {"name": rule.name})
    return HttpResponseRedirect(reverse("web:rules"))


@manager_required
def run_list(request: HttpRequest) -> HttpResponse:
    viewer = viewer_of(request)
    runs = list(history.run_list(viewer)[:100])
    rows = [(run, history.reasons_of(run)) for run in runs]
    return render(request, "web/console/runs.html", {**NAV, "tab": "runs", "rows": rows})


@manager_required
def run_detail(request: HttpRequest, run_id: int) -> HttpResponse:
    try:
        report = history.run_report(viewer_of(request), run_id)
    except HighSeasError:
        raise Http404 from None
    return render(request, "web/console/run.html", {**NAV, "tab": "runs", "report": report})
