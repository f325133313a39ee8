"""Template helper: why the signed-in rep's limits in a pool differ from the pool's own
(``insights.limits.explain_limits``), read once per request, shown beside their quota."""

from __future__ import annotations

from typing import Any

from django import template

from highseas.accounts.models import User
from highseas.insights.limits import explain_limits

register = template.Library()


@register.simple_tag(takes_context=True)
def limit_reason(context: dict[str, Any], pool_id: int) -> str:
    """ "Weekly quota 15: top 20% by win rate over the last 30 days, +50%", or nothing."""
    request = context.get("request")
    user = getattr(request, "user", None)
    if not isinstance(user, User):
        return ""
    reasons = getattr(request, "_highseas_limit_reasons", None)
    if reasons is None:
        reasons = {row["pool"]: row["text"] for row in explain_limits(user)}
        request._highseas_limit_reasons = reasons  # type: ignore[union-attr]
    return str(reasons.get(pool_id, ""))
