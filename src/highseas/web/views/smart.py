"""The smart assignment page: the current win model (its holdout AUC, Brier score and
reliability), the versions, training on demand, and simulations of past periods with a chart
per figure. Each action is one ``smart`` service for the manager."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from highseas.accounts.models import Team
from highseas.engine.errors import HighSeasError
from highseas.smart import services
from highseas.smart.models import Simulation
from highseas.smart.simulate import simulate, simulation, simulations
from highseas.web import charts
from highseas.web.access import manager_required
from highseas.web.responses import viewer_of
from highseas.web.smart_forms import STRATEGY_LABELS, SimulationForm

LABELS = dict(STRATEGY_LABELS)


def _moment(day: Any) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def _teams(request: HttpRequest) -> list[Team]:
    viewer = viewer_of(request)
    found = Team.objects.order_by("path")
    if not viewer.is_admin:
        found = found.filter(pk__in=viewer.subtree_team_ids)
    return list(found)


def _charts(found: Simulation) -> dict[str, Any]:
    figures = found.results.get("strategies", {})

    def items(key: str, scale: float = 1.0) -> list[tuple[str, float]]:
        return [(str(LABELS.get(n, n)), round(f[key] * scale, 1)) for n, f in figures.items()]

    return {
        "wins_chart": charts.bars(items("expected_wins"), width=420, label_width=90),
        "gini_chart": charts.bars(
            items("gini_workload", 100),
            width=420,
            label_width=90,
            percent=True,
            color=charts.PALETTE[2],
        ),
        "recycled_chart": charts.bars(
            items("recycled"), width=420, label_width=90, color=charts.PALETTE[3]
        ),
        "rows": [(LABELS.get(n, n), f) for n, f in figures.items()],
    }


@manager_required
def smart_page(request: HttpRequest) -> HttpResponse:
    viewer = viewer_of(request)
    if request.method == "POST" and request.POST.get("action") == "train":
        version = services.train_model(viewer)
        if version.fallback:
            messages.warning(
                request,
                _(
                    "Version %(v)s: too little history (%(n)s decided deals); smart rules use "
                    "the performance strategy."
                )
                % {"v": version.version, "n": version.deals},
            )
        else:
            messages.success(
                request,
                _("Version %(v)s trained on %(n)s deals: AUC %(auc)s, Brier %(brier)s.")
                % {
                    "v": version.version,
                    "n": version.deals,
                    "auc": version.auc,
                    "brier": version.brier,
                },
            )
        return redirect("web:smart")
    today = timezone.localdate()
    form = SimulationForm(
        request.POST if request.method == "POST" else None,
        teams=_teams(request),
        initial={"since": today - timedelta(days=30), "until": today},
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            found = simulate(
                viewer,
                since=_moment(data["since"]),
                until=_moment(data["until"]),
                strategies=data["strategies"],
                team_id=data["team"],
                fairness=data["fairness"],
            )
        except HighSeasError as refusal:
            messages.error(request, refusal.detail)
        else:
            return redirect(f"{reverse('web:smart')}?simulation={found.pk}")
    shown = request.GET.get("simulation", "")
    past = simulations(viewer, 10)
    current = simulation(viewer, int(shown)) if shown.isdigit() else (past[0] if past else None)
    model = services.current_model(viewer)
    context: dict[str, Any] = {
        "section": "console",
        "tab": "smart",
        "model": model,
        "versions": services.versions(viewer, 8),
        "calibration": (model.metrics.get("calibration") or []) if model else [],
        "form": form,
        "simulations": past,
        "simulation": current,
    }
    if current is not None:
        context.update(_charts(current))
    return render(request, "web/console/smart.html", context)
