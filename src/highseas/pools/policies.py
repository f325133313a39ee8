"""Reading a pool's policies and a rep's overrides into the engine's plain forms."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.conf import settings

from highseas.accounts.models import RepProfile
from highseas.customers.choices import CustomerLevel
from highseas.engine.bounds import policy_errors, policy_value_error, require_valid
from highseas.engine.limits import ClaimLimits, RepOverrides
from highseas.engine.recycle import RecycleRules
from highseas.pools.models import ClaimPolicy, Pool, RecyclePolicy

# The recycle limits a level may override (``RecycleRules.for_level`` reads these); the API
# validates against them and the web's policy editor offers each of them per level.
LEVEL_OVERRIDE_KEYS = ("idle_days", "no_deal_days", "first_contact_hours", "warn_days")


def level_override_errors(overrides: Any) -> list[str]:
    """What is wrong with a ``level_overrides`` value; empty when it is valid."""
    if not isinstance(overrides, dict):
        return ["Use an object keyed by level."]
    errors = []
    for level, values in overrides.items():
        if level not in CustomerLevel.values or not isinstance(values, dict):
            errors.append(f"Unknown level {level!r}.")
            continue
        for key, value in values.items():
            if key not in LEVEL_OVERRIDE_KEYS:
                errors.append(f"Unknown override {key!r}.")
            elif value is not None and (
                not isinstance(value, int) or isinstance(value, bool) or value < 0
            ):
                errors.append(f"{key} must be a whole number or null.")
            elif message := policy_value_error(key, value):
                errors.append(f"{key}: {message}.")
    return errors


def require_bounded_policies(
    claim_policy: dict[str, Any] | None, recycle_policy: dict[str, Any] | None
) -> None:
    """Refuse policy values out of bounds (``engine.bounds``: days, hours, counts), naming
    each field under its policy; the API and the web's policy editor both save through here."""
    errors = {
        name: found
        for name, values in (("claim_policy", claim_policy), ("recycle_policy", recycle_policy))
        if values and (found := policy_errors(values))
    }
    require_valid(errors)


# The columns of each policy the engine reads, in the order of its dataclass's fields (the claim
# statements of ``pools.claim_statements`` select exactly these).
CLAIM_LIMIT_FIELDS = tuple(ClaimLimits.__dataclass_fields__)
RECYCLE_RULE_FIELDS = tuple(
    name for name in RecycleRules.__dataclass_fields__ if name != "late_warning_fraction"
)


def late_warning_fraction() -> float:
    """How far from the claim to a due time closer than the warning window the owner is
    warned (``HIGHSEAS_LATE_WARNING_FRACTION``, 0 < f < 1; half-way by default)."""
    fraction = float(getattr(settings, "HIGHSEAS_LATE_WARNING_FRACTION", 0.5))
    return fraction if 0 < fraction < 1 else 0.5


def limits_from(values: Mapping[str, Any]) -> ClaimLimits:
    """A claim policy's limits from its column values (``CLAIM_LIMIT_FIELDS``)."""
    return ClaimLimits(**{name: values[name] for name in CLAIM_LIMIT_FIELDS})


def rules_from(values: Mapping[str, Any]) -> RecycleRules:
    """A recycle policy's rules from its column values (``RECYCLE_RULE_FIELDS``)."""
    found = {name: values[name] for name in RECYCLE_RULE_FIELDS}
    found["exempt_levels"] = frozenset(found["exempt_levels"] or ())
    found["level_overrides"] = dict(found["level_overrides"] or {})
    return RecycleRules(**found, late_warning_fraction=late_warning_fraction())


def claim_limits(pool: Pool | None) -> ClaimLimits:
    policy: ClaimPolicy | None = getattr(pool, "claim_policy", None) if pool else None
    if policy is None:
        return ClaimLimits()
    return limits_from(vars(policy))


def rep_overrides(profile: RepProfile | None) -> RepOverrides:
    if profile is None:
        return RepOverrides()
    return RepOverrides(
        holding_cap=profile.holding_cap_override,
        daily_quota=profile.daily_quota_override,
        weekly_quota=profile.weekly_quota_override,
    )


def recycle_rules(pool: Pool | None) -> RecycleRules | None:
    policy: RecyclePolicy | None = getattr(pool, "recycle_policy", None) if pool else None
    if policy is None:
        return None
    return rules_from(vars(policy))


def daily_view_limit(pool: Pool | None) -> int | None:
    """How many of the pool's customers a rep may open in detail per org-calendar day."""
    policy: ClaimPolicy | None = getattr(pool, "claim_policy", None) if pool else None
    return policy.daily_view_limit if policy is not None else None
