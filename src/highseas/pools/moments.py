"""The time-travel rule (SPEC §10), in one place for the API, the web and the CLI.

A preview (``dry_run``) may be asked at any moment. A real sweep or assignment run at a
moment other than the present (more than ``TIME_TRAVEL_SLACK_SECONDS`` away, so a client's
clock skew does not count) is allowed only when the deployment sets
``HIGHSEAS_ALLOW_TIME_TRAVEL=1``; otherwise it is refused with ``validation_error`` on ``now``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _

from highseas.engine.errors import ErrorCode, HighSeasError

TIME_TRAVEL_SLACK_SECONDS = 60


def is_moved(now: datetime | None, *, present: datetime | None = None) -> bool:
    """Whether ``now`` names a moment other than the present."""
    if now is None:
        return False
    present = present or timezone.now()
    return abs((now - present).total_seconds()) > TIME_TRAVEL_SLACK_SECONDS


def require_allowed_moment(
    now: datetime | None, *, dry_run: bool, job: Literal["sweep", "run"]
) -> None:
    """Refuse a real job at another moment unless time travel is on."""
    if dry_run or not is_moved(now) or settings.ALLOW_TIME_TRAVEL:
        return
    detail = (
        _("A real sweep at another time is not allowed here.")
        if job == "sweep"
        else _("A real run at another time is not allowed here.")
    )
    raise HighSeasError(ErrorCode.VALIDATION_ERROR, detail, errors={"now": ["time travel is off"]})
