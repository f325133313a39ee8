"""The win model's doors: train a version (on demand or on a schedule), read the current one,
and the scoring a run of the rules uses.

A version is trained on every deal decided before ``now``; it is numbered, stored with its
holdout metrics, and becomes current at once. Below the data threshold the version records
why (``fallback``) and carries no model: smart rules then use ``performance``, and say so.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.db.models import Max, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from highseas.accounts.models import User
from highseas.accounts.visibility import Viewer
from highseas.customers.models import Deal
from highseas.engine.errors import ErrorCode, HighSeasError
from highseas.engine.smart import Fallback, Scoring
from highseas.pools import nightly
from highseas.smart import store
from highseas.smart.history import decided_deals, reps_now
from highseas.smart.models import WinModelVersion
from highseas.smart.record import Record
from highseas.smart.scoring import ModelScorer
from highseas.smart.validate import Trained, train

ALGORITHM = "logistic_interactions"
RETRAIN_EVERY = timedelta(days=1)

Trigger = WinModelVersion.Trigger


def _require_manager(viewer: Viewer | None, action: str) -> None:
    if viewer is not None and not viewer.is_manager_or_admin:
        raise HighSeasError(
            ErrorCode.PERMISSION_DENIED,
            _("Only a manager or an admin may %(action)s.") % {"action": action},
        )


def fit_history(now: datetime, since: datetime | None = None) -> tuple[Trained, Record, float]:
    examples = decided_deals(now, since)
    started = time.perf_counter()
    trained = train(examples)
    return trained, Record.of(examples), time.perf_counter() - started


def train_model(
    viewer: Viewer | None,
    *,
    now: datetime | None = None,
    since: datetime | None = None,
    trigger: str = Trigger.MANUAL,
) -> WinModelVersion:
    """Train a new version on the deals decided before ``now`` (and from ``since``) and make
    it current."""
    _require_manager(viewer, _("train the win model"))
    now = now or timezone.now()
    trained, record, seconds = fit_history(now, since)
    for _attempt in range(5):
        version = (WinModelVersion.objects.aggregate(top=Max("version"))["top"] or 0) + 1
        name, digest = ("", "")
        if trained.model is not None:
            name, digest = store.write(version, trained.model, record)
        try:
            with transaction.atomic():
                return WinModelVersion.objects.create(
                    version=version,
                    trained_at=timezone.now(),
                    trained_by=viewer.user if viewer is not None else None,
                    trigger=trigger,
                    cutoff=now,
                    deals=trained.deals,
                    won=trained.won,
                    since=trained.since,
                    until=trained.until,
                    fallback=trained.fallback,
                    algorithm=ALGORITHM if trained.model is not None else "",
                    strength=trained.strength,
                    metrics=trained.metrics,
                    artefact=name,
                    sha256=digest,
                    seconds=round(seconds, 3),
                )
        except IntegrityError:  # another training took the number: take the next
            continue
    raise RuntimeError("could not number the new win model version")


def current_version() -> WinModelVersion | None:
    return WinModelVersion.objects.order_by("-version").first()


def current_model(viewer: Viewer) -> WinModelVersion | None:
    _require_manager(viewer, _("read the win model"))
    return current_version()


def versions(viewer: Viewer, limit: int = 20) -> list[WinModelVersion]:
    _require_manager(viewer, _("read the win model"))
    return list(WinModelVersion.objects.order_by("-version")[:limit])


def scoring_of(version: WinModelVersion | None, now: datetime) -> Scoring:
    """What smart rules score with under ``version``, or why they fall back."""
    if version is None:
        return Fallback("no_model")
    if version.fallback:
        return Fallback(version.fallback, version.version)
    try:
        model, record = store.read(version.artefact, version.sha256)
    except store.ArtefactMissing:
        return Fallback("artefact_missing", version.version)
    return ModelScorer(model, version.version, record=record, load=lambda reps: reps_now(reps, now))


def scoring(now: datetime) -> Scoring:
    """The current version's scoring for a run judged at ``now``."""
    return scoring_of(current_version(), now)


def retrain_if_due(now: datetime) -> dict[str, int]:
    """The schedule: a new version at the night hour once a night passed since the latest was
    trained (``RETRAIN_EVERY``, ``pools.nightly``) and deals were decided since (or at once
    when there is none and some deal was decided)."""
    latest = current_version()
    decided = Deal.objects.filter(Q(won_at__lt=now) | Q(lost_at__lt=now), owner__isnull=False)
    if latest is not None:
        if not nightly.is_due(latest.trained_at, RETRAIN_EVERY, now):
            return {}
        since = latest.cutoff
        decided = decided.filter(Q(won_at__gte=since) | Q(lost_at__gte=since))
    if not decided.exists():
        return {}
    made = train_model(None, now=now, trigger=Trigger.SCHEDULE)
    return {"win_model_version": made.version}


def trained_by_name(version: WinModelVersion) -> str:
    user: User | None = version.trained_by
    return user.label if user is not None else ""
