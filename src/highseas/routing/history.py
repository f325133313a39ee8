"""The history of assignment runs as a manager reads it: each run's counts and reasons, and
for a real run every decision with its explanation in the reader's language.

1. The runs are those of ``queries.runs_visible_to`` (the API's history): admins every run,
   a manager the runs of their pools and those they triggered; any other run is
   ``not_found``.
2. A decision names its customer only when the viewer sees the customer
   (``Viewer.customers``); others are counted, not listed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.db.models import QuerySet
from django.utils.translation import gettext as _

from highseas.accounts.visibility import Viewer
from highseas.engine.errors import ErrorCode, HighSeasError
from highseas.routing.explain import reason_text, render, rep_names
from highseas.routing.models import AssignmentDecision, AssignmentRun, expanded
from highseas.routing.queries import runs_visible_to

SHOWN_DECISIONS = 200


def run_list(viewer: Viewer) -> QuerySet[AssignmentRun]:
    return runs_visible_to(viewer).select_related("pool", "triggered_by").order_by("-id")


def reasons_of(run: AssignmentRun) -> list[tuple[str, int]]:
    """Why customers stayed in the pool, as sentences, most frequent first."""
    counted = sorted((run.unassigned_reasons or {}).items(), key=lambda item: -item[1])
    return [(reason_text(code), count) for code, count in counted]


@dataclass
class RunReport:
    run: AssignmentRun
    reasons: list[tuple[str, int]]
    decisions: list[dict[str, Any]] = field(default_factory=list)
    hidden: int = 0
    more: int = 0


def run_report(viewer: Viewer, run_id: int) -> RunReport:
    run = run_list(viewer).filter(pk=run_id).first()
    if run is None:
        raise HighSeasError(ErrorCode.NOT_FOUND, _("No such assignment run."))
    rows = (
        AssignmentDecision.objects.filter(run=run)
        .select_related("customer", "rule", "owner")
        .order_by("id")
    )
    visible = set(
        viewer.customers().filter(pk__in=rows.values("customer_id")).values_list("pk", flat=True)
    )
    shown = [row for row in rows[: SHOWN_DECISIONS * 2] if row.customer_id in visible]
    explained = [expanded(row.explanation, run.eligible_sets) for row in shown[:SHOWN_DECISIONS]]
    names = rep_names(explained)
    total = rows.count()
    report = RunReport(run=run, reasons=reasons_of(run), hidden=total - len(visible))
    report.more = max(len(visible) - SHOWN_DECISIONS, 0)
    for row, explanation in zip(shown[:SHOWN_DECISIONS], explained, strict=True):
        report.decisions.append(
            {
                "customer": row.customer_id,
                "customer_name": row.customer.name,
                "rule_name": row.rule.name if row.rule else "",
                "owner_name": row.owner.label if row.owner else "",
                "outcome": row.outcome,
                "explanation": render(explanation, names),
            }
        )
    return report
