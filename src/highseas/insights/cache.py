"""Expensive figures served from a cache (``FigureCache``), with the exact live figure a click
away.

Which figures: the ones that are neither a sum of per-rep days (``snapshots``) nor a cheap
indexed count — the follow-up rates and the conversion by channel of the dashboard, its
customers due within a week and pooled, the pools' size lines; the insights page's
breakdowns, claim effectiveness, hoarding, bouncing customers and levels; the follow-up rate,
deals and first-contact times of ``insights/reps`` over its default window. Each answer that
uses the cache says when it was computed.

1. ``remember(name, viewer, params, now=…, exact=…)`` answers ``(value, computed_at)``: with
   ``exact`` the live figure (``computed_at`` None); otherwise the stored one when younger
   than ``STALE``, else computed now and stored (one row per figure, viewer, what the viewer
   may see, and parameters). What they may see is part of the key (``scope``): a manager
   given other teams, an admin turned manager, a rep covering another's leave reads figures
   computed for what they may see now, never those cached for what they could see before.
2. ``refresh(now)`` (the scheduler) recomputes the stored figures that are stale and were read
   within ``FORGET``, and drops the others, so a page read every day stays fast.
3. A figure is a registered function of the viewer, the parameters and ``now``
   (``FIGURES``); values go through a JSON codec that keeps decimals, moments and days.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.utils import timezone

from highseas.accounts.models import User
from highseas.accounts.visibility import Viewer
from highseas.insights.models import FigureCache

FORGET = timedelta(days=1)
Figure = Callable[[Viewer, dict[str, Any], datetime], Any]
FIGURES: dict[str, Figure] = {}


def stale_after() -> timedelta:
    return timedelta(seconds=int(getattr(settings, "HIGHSEAS_FIGURE_CACHE_SECONDS", 900)))


def figure(name: str) -> Callable[[Figure], Figure]:
    def register(compute: Figure) -> Figure:
        FIGURES[name] = compute
        return compute

    return register


def _encode(value: Any) -> Any:
    if isinstance(value, Decimal):
        return {"__decimal": str(value)}
    if isinstance(value, datetime):
        return {"__moment": value.isoformat()}
    if isinstance(value, date):
        return {"__day": value.isoformat()}
    if isinstance(value, dict):
        return {str(key): _encode(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_encode(item) for item in value]
    return value


def _decode(value: Any) -> Any:
    if isinstance(value, dict):
        if len(value) == 1:
            ((tag, raw),) = value.items()
            if tag == "__decimal":
                return Decimal(raw)
            if tag == "__moment":
                return datetime.fromisoformat(raw)
            if tag == "__day":
                return date.fromisoformat(raw)
        return {key: _decode(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_decode(item) for item in value]
    return value


def scope(viewer: Viewer) -> str:
    """A digest of the visibility facts the figures are computed from: the viewer's role and
    team, the teams they manage with those below, their pools and the leaves they cover."""
    if viewer.is_admin:
        return "admin"
    user = viewer.user
    facts = [
        user.role,
        user.team_id,
        sorted(viewer.subtree_team_ids),
        sorted(viewer.member_pool_ids),
        sorted(viewer.admin_pool_ids),
        sorted(viewer.covered_owner_ids),
    ]
    return hashlib.sha256(json.dumps(facts).encode()).hexdigest()[:16]


def _key(name: str, viewer: Viewer, params: dict[str, Any]) -> str:
    return f"{name}|{viewer.user.pk}|{scope(viewer)}|{json.dumps(params, sort_keys=True)}"


def _store(key: str, value: Any, now: datetime) -> None:
    FigureCache.objects.update_or_create(
        key=key, defaults={"value": _encode(value), "computed_at": now, "read_at": now}
    )


def remember(
    name: str,
    viewer: Viewer,
    params: dict[str, Any],
    *,
    now: datetime | None = None,
    exact: bool = False,
) -> tuple[Any, datetime | None]:
    """The figure and when it was computed (module docstring, step 1)."""
    now = now or timezone.now()
    compute = FIGURES[name]
    if exact:
        return compute(viewer, params, now), None
    key = _key(name, viewer, params)
    row = FigureCache.objects.filter(key=key).only("value", "computed_at", "read_at").first()
    if row is not None and now - stale_after() < row.computed_at <= now:
        if now - row.read_at > stale_after():
            FigureCache.objects.filter(pk=row.pk).update(read_at=now)
        return _decode(row.value), row.computed_at
    value = compute(viewer, params, now)
    _store(key, value, now)
    return _decode(_encode(value)), now


def refresh(now: datetime) -> dict[str, int]:
    """Recompute the stale figures still being read; drop the rest (step 2)."""
    FigureCache.objects.filter(read_at__lt=now - FORGET).delete()
    stale = FigureCache.objects.filter(computed_at__lte=now - stale_after()).values_list(
        "key", flat=True
    )
    done = 0
    for key in list(stale):
        parts = key.split("|", 3)
        user = None
        if len(parts) == 4 and parts[0] in FIGURES and parts[1].isdigit():
            user = User.objects.filter(pk=int(parts[1]), is_active=True).first()
        viewer = Viewer(user) if user is not None else None
        if viewer is None or scope(viewer) != parts[2]:  # gone, or sees otherwise now
            FigureCache.objects.filter(key=key).delete()
            continue
        value = _encode(FIGURES[parts[0]](viewer, json.loads(parts[3]), now))
        FigureCache.objects.filter(key=key).update(value=value, computed_at=now)
        done += 1
    return {"figures_refreshed": done} if done else {}
