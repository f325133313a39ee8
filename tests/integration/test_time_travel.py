"""One time-travel rule (``pools.moments``) for the API's sweeps and runs and the CLI's
``sweep`` and ``assign``: a preview at any moment, a real job only at the present unless the
deployment allows time travel."""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from highseas.accounts.models import Role, User
from highseas.engine.errors import HighSeasError
from highseas.pools.moments import TIME_TRAVEL_SLACK_SECONDS, require_allowed_moment

pytestmark = pytest.mark.django_db


def test_a_real_job_at_another_moment_is_refused_without_time_travel(settings: Any) -> None:
    settings.ALLOW_TIME_TRAVEL = False
    with pytest.raises(HighSeasError) as refused:
        require_allowed_moment(timezone.now() + timedelta(days=1), dry_run=False, job="sweep")
    assert (refused.value.code.value, refused.value.facts) == (
        "validation_error",
        {"errors": {"now": ["time travel is off"]}},
    )


@pytest.mark.parametrize(
    ("shift", "dry_run", "allowed"),
    [
        (timedelta(days=3), True, True),
        (timedelta(seconds=TIME_TRAVEL_SLACK_SECONDS - 5), False, True),
        (timedelta(seconds=-TIME_TRAVEL_SLACK_SECONDS - 5), False, False),
    ],
)
def test_previews_go_anywhere_and_clock_skew_is_not_time_travel(
    settings: Any, shift: timedelta, dry_run: bool, allowed: bool
) -> None:
    settings.ALLOW_TIME_TRAVEL = False
    moment = timezone.now() + shift
    try:
        require_allowed_moment(moment, dry_run=dry_run, job="run")
    except HighSeasError:
        assert not allowed
    else:
        assert allowed


@pytest.mark.parametrize("command", ["sweep", "assign"])
def test_the_cli_obeys_the_same_rule(
    settings: Any, command: str, make_user: Callable[..., User]
) -> None:
    make_user(Role.ADMIN, "boss")
    settings.ALLOW_TIME_TRAVEL = False
    future = (timezone.localtime() + timedelta(days=2)).isoformat()
    out = io.StringIO()
    with pytest.raises(CommandError, match="HIGHSEAS_ALLOW_TIME_TRAVEL=1"):
        call_command(command, "--now", future, stdout=out, stderr=io.StringIO())
    call_command(command, "--now", future, "--dry-run", stdout=out, stderr=io.StringIO())
    settings.ALLOW_TIME_TRAVEL = True
    call_command(command, "--now", future, stdout=out, stderr=io.StringIO())
