"""The pool policy editor's form: claim rules, recycle rules, and per-level overrides.

A blank limit means "no limit". The form carries a fingerprint of the settings that were
previewed, so that "save" only ever saves what the manager has just seen the preview of.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from django import forms
from django.core.serializers.json import DjangoJSONEncoder
from django.utils.translation import gettext_lazy as _

from highseas.customers.choices import ActivityKind, CustomerLevel
from highseas.pools.models import ClaimPolicy, LeaveMode, Pool, RecycleDestination, RecyclePolicy
from highseas.pools.policies import LEVEL_OVERRIDE_KEYS

CLAIM_FIELDS = [
    "daily_quota",
    "weekly_quota",
    "holding_cap",
    "count_won_in_cap",
    "reclaim_cooldown_days",
    "requires_approval",
    "requires_reason",
    "approval_expiry_hours",
    "max_frozen",
    "max_freeze_days",
    "daily_view_limit",
]
RECYCLE_LIMITS = [
    "idle_days",
    "no_deal_days",
    "first_contact_hours",
    "warn_days",
    "won_repurchase_days",
]
OVERRIDE_KEYS = list(LEVEL_OVERRIDE_KEYS)  # every override the pool's rules know, per level
LEVELS = [level.value for level in CustomerLevel]
HORIZONS = [(7, _("7 days")), (14, _("14 days")), (30, _("30 days"))]


def _limit(label: Any) -> forms.IntegerField:
    return forms.IntegerField(
        label=label,
        required=False,
        min_value=0,
        widget=forms.NumberInput(attrs={"placeholder": _("no limit")}),
    )


class PoolPolicyForm(forms.Form):
    daily_quota = _limit(_("Claims per day"))
    weekly_quota = _limit(_("Claims per week"))
    holding_cap = _limit(_("Holding cap"))
    count_won_in_cap = forms.BooleanField(
        label=_("Won customers count toward the cap"), required=False
    )
    reclaim_cooldown_days = _limit(_("Reclaim cooldown (days)"))
    requires_approval = forms.BooleanField(
        label=_("Claims need a manager's approval"), required=False
    )
    requires_reason = forms.BooleanField(label=_("Claims need a reason"), required=False)
    approval_expiry_hours = _limit(_("Requests expire after (hours)"))
    max_frozen = _limit(_("Most frozen customers per rep"))
    max_freeze_days = _limit(_("Longest freeze (days)"))
    daily_view_limit = _limit(_("Pool customers a rep may open per day"))

    idle_days = _limit(_("Idle limit (days)"))
    no_deal_days = _limit(_("No-deal limit (days)"))
    first_contact_hours = _limit(_("First-contact limit (hours)"))
    warn_days = _limit(_("Warn days before"))
    won_repurchase_days = _limit(_("Won customers return after contract end (days)"))
    effective_activity_kinds = forms.MultipleChoiceField(
        label=_("Follow-ups that reset the idle clock"),
        choices=ActivityKind.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    exempt_won = forms.BooleanField(label=_("Won customers are exempt"), required=False)
    exempt_open_deal = forms.BooleanField(
        label=_("Customers with an open deal are exempt"), required=False
    )
    exempt_levels = forms.MultipleChoiceField(
        label=_("Exempt levels"),
        choices=[(level, level) for level in LEVELS],
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    leave_mode = forms.ChoiceField(
        label=_("During a rep's recorded leave"),
        choices=LeaveMode.choices,
        required=False,
        widget=forms.RadioSelect,
    )
    destination = forms.ChoiceField(
        label=_("Recycled customers go"), choices=RecycleDestination.choices
    )
    destination_pool = forms.ModelChoiceField(
        label=_("Destination pool"), queryset=Pool.objects.none(), required=False, empty_label="—"
    )
    days = forms.TypedChoiceField(
        label=_("Preview the next"), choices=HORIZONS, coerce=int, initial=7
    )
    previewed = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(self, data: Any, *, pool: Pool) -> None:
        super().__init__(data, initial=initial_values(pool))
        self.pool = pool
        self.fields["destination_pool"].queryset = Pool.objects.exclude(pk=pool.pk).filter(  # type: ignore[attr-defined]
            is_reassign_queue=False
        )
        for level in LEVELS:
            for key in OVERRIDE_KEYS:
                self.fields[f"{key}_{level}"] = _limit(level)

    def override_headers(self) -> list[Any]:
        return [self.fields[key].label for key in OVERRIDE_KEYS]

    def override_rows(self) -> list[tuple[str, list[forms.BoundField]]]:
        return [(level, [self[f"{key}_{level}"] for key in OVERRIDE_KEYS]) for level in LEVELS]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("destination") == RecycleDestination.OTHER_POOL and not data.get(
            "destination_pool"
        ):
            self.add_error("destination_pool", _("Name the pool."))
        return data

    def claim_policy(self) -> dict[str, Any]:
        return {name: self.cleaned_data[name] for name in CLAIM_FIELDS}

    def recycle_policy(self) -> dict[str, Any]:
        data = self.cleaned_data
        destination = data["destination"]
        return {
            **{name: data[name] for name in RECYCLE_LIMITS},
            "effective_activity_kinds": list(data["effective_activity_kinds"]),
            "exempt_won": data["exempt_won"],
            "exempt_open_deal": data["exempt_open_deal"],
            "exempt_levels": list(data["exempt_levels"]),
            "level_overrides": self._overrides(),
            "leave_mode": data["leave_mode"] or self.initial.get("leave_mode", LeaveMode.PAUSE),
            "destination": destination,
            "destination_pool": data["destination_pool"]
            if destination == RecycleDestination.OTHER_POOL
            else None,
        }

    def _overrides(self) -> dict[str, dict[str, int | None]]:
        """The filled-in overrides per level (the form offers every key the rules know)."""
        result: dict[str, dict[str, int | None]] = {}
        for level in LEVELS:
            edited = {
                key: self.cleaned_data[f"{key}_{level}"]
                for key in OVERRIDE_KEYS
                if self.cleaned_data.get(f"{key}_{level}") is not None
            }
            if edited:
                result[level] = edited
        return result

    def fingerprint(self) -> str:
        recycle = {**self.recycle_policy()}
        pool = recycle.pop("destination_pool")
        settings = {
            "pool": self.pool.pk,
            "claim": self.claim_policy(),
            "recycle": recycle,
            "to": pool.pk if pool else None,
            "days": self.cleaned_data["days"],
        }
        text = json.dumps(settings, sort_keys=True, cls=DjangoJSONEncoder)
        return hashlib.sha256(text.encode()).hexdigest()[:32]


def _claim(pool: Pool) -> ClaimPolicy | None:
    return ClaimPolicy.objects.filter(pool=pool).first()


def _recycle(pool: Pool) -> RecyclePolicy | None:
    return RecyclePolicy.objects.filter(pool=pool).first()


def initial_values(pool: Pool) -> dict[str, Any]:
    claim = _claim(pool) or ClaimPolicy()
    recycle = _recycle(pool) or RecyclePolicy()
    values: dict[str, Any] = {name: getattr(claim, name) for name in CLAIM_FIELDS}
    values.update({name: getattr(recycle, name) for name in RECYCLE_LIMITS})
    values.update(
        effective_activity_kinds=list(recycle.effective_activity_kinds),
        exempt_won=recycle.exempt_won,
        exempt_open_deal=recycle.exempt_open_deal,
        exempt_levels=list(recycle.exempt_levels),
        destination=recycle.destination,
        destination_pool=recycle.destination_pool_id,
        leave_mode=recycle.leave_mode,
        days=7,
    )
    for level, override in (recycle.level_overrides or {}).items():
        for key in OVERRIDE_KEYS:
            if key in override:
                values[f"{key}_{level}"] = override[key]
    return values
