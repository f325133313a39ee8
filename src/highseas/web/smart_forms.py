"""The smart assignment page's forms: they check shapes, the ``smart`` services check rules."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from highseas.accounts.models import Team
from highseas.engine.targets import DEFAULT_FAIRNESS, MAX_FAIRNESS
from highseas.smart.simulate import ACTUAL
from highseas.web.forms import DateInput

STRATEGY_LABELS = [
    (ACTUAL, _("What happened")),
    ("round_robin", _("Round-robin")),
    ("weighted", _("Weighted")),
    ("least_loaded", _("Least loaded")),
    ("capacity", _("Capacity")),
    ("performance", _("Performance")),
    ("skill", _("Skill match")),
    ("smart", _("Smart")),
]


class SimulationForm(forms.Form):
    since = forms.DateField(label=_("From"), widget=DateInput())
    until = forms.DateField(label=_("Until (excluded)"), widget=DateInput())
    strategies = forms.MultipleChoiceField(
        label=_("Strategies"),
        choices=STRATEGY_LABELS,
        widget=forms.CheckboxSelectMultiple,
        initial=[ACTUAL, "round_robin", "performance", "smart"],
    )
    team = forms.TypedChoiceField(label=_("Team"), coerce=int, required=False, empty_value=None)
    fairness = forms.FloatField(
        label=_("Fairness: most above an even split (0.25 = 25%)"),
        min_value=0,
        max_value=MAX_FAIRNESS,
        initial=DEFAULT_FAIRNESS,
    )

    def __init__(self, *args: Any, teams: list[Team], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["team"].choices = [("", _("My team"))] + [  # type: ignore[attr-defined]
            (t.pk, t.name) for t in teams
        ]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("since") and data.get("until") and data["since"] >= data["until"]:
            raise forms.ValidationError(_("The period must end after it starts."))
        return data
