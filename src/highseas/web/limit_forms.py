"""The performance-linked limits page's form: it checks shapes and turns the rows into the
plan fields ``insights.limits`` takes; the service checks the rules (tiers, ceilings at least
the pool's own limits) and the viewer."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from highseas.engine.tiers import MOST_MULTIPLIER
from highseas.insights.models import LimitPlan

TIER_ROWS = 3
CEILINGS = ("ceiling_daily_quota", "ceiling_weekly_quota", "ceiling_holding_cap")


class LimitPlanForm(forms.Form):
    measure = forms.ChoiceField(label=_("Ranked by"), choices=LimitPlan.Measure.choices)
    window_days = forms.IntegerField(label=_("Over the last (days)"), min_value=1, max_value=731)
    ceiling_daily_quota = forms.IntegerField(
        label=_("Daily quota at most"), min_value=0, required=False
    )
    ceiling_weekly_quota = forms.IntegerField(
        label=_("Weekly quota at most"), min_value=0, required=False
    )
    ceiling_holding_cap = forms.IntegerField(
        label=_("Holding cap at most"), min_value=0, required=False
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for row in range(1, TIER_ROWS + 1):
            self.fields[f"tier{row}_top"] = forms.FloatField(
                label=_("Top %"), min_value=0.01, max_value=100, required=False
            )
            self.fields[f"tier{row}_multiplier"] = forms.DecimalField(
                label=_("Multiplier"),
                min_value=0,
                max_value=MOST_MULTIPLIER,
                decimal_places=2,
                required=False,
            )

    @classmethod
    def initial_of(cls, plan: dict[str, Any]) -> dict[str, Any]:
        """The form's initial values from a plan as ``plan_report`` describes it."""
        names = ("measure", "window_days", *CEILINGS)
        initial = {name: plan[name] for name in names}
        for row, tier in enumerate(plan["tiers"][:TIER_ROWS], 1):
            initial[f"tier{row}_top"] = tier["top_percent"]
            initial[f"tier{row}_multiplier"] = tier["multiplier"]
        return initial

    def tier_rows(self) -> list[tuple[forms.BoundField, forms.BoundField]]:
        return [
            (self[f"tier{row}_top"], self[f"tier{row}_multiplier"])
            for row in range(1, TIER_ROWS + 1)
        ]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        for row in range(1, TIER_ROWS + 1):
            top, factor = data.get(f"tier{row}_top"), data.get(f"tier{row}_multiplier")
            if (top is None) != (factor is None):
                self.add_error(f"tier{row}_top", _("Give both the top % and the multiplier."))
        return data

    def plan_fields(self) -> dict[str, Any]:
        """The plan fields the service takes (``insights.limits.PLAN_FIELDS``, less the
        switch, which the page's buttons set)."""
        data = self.cleaned_data
        tiers = [
            {
                "top_percent": data[f"tier{row}_top"],
                "multiplier": float(data[f"tier{row}_multiplier"]),
            }
            for row in range(1, TIER_ROWS + 1)
            if data.get(f"tier{row}_top") is not None
        ]
        return {
            "measure": data["measure"],
            "window_days": data["window_days"],
            "tiers": sorted(tiers, key=lambda tier: tier["top_percent"]),
        } | {name: data.get(name) for name in CEILINGS}
