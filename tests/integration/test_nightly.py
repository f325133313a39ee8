"""The night hour of the daily slow jobs (``pools.nightly``)."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from highseas.pools.nightly import is_due, last_night

SHANGHAI = ZoneInfo("Asia/Shanghai")
DAY = timedelta(days=1)


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 3, day, hour, minute, tzinfo=SHANGHAI)


class TestDaily:
    @pytest.fixture(autouse=True)
    def _night_at_three(self, settings: Any) -> None:
        settings.TIME_ZONE = "Asia/Shanghai"
        settings.HIGHSEAS_NIGHTLY_HOUR = 3

    def test_a_server_started_at_nine_runs_the_job_that_night_not_at_nine(self) -> None:
        started = at(2, 9)
        assert not is_due(started, DAY, at(3, 2, 59))
        assert is_due(started, DAY, at(3, 3))
        assert is_due(started, DAY, at(3, 9))  # a day late still runs, once

    def test_a_job_run_at_night_waits_for_the_next_night(self) -> None:
        ran = at(2, 3, 1)
        assert not is_due(ran, DAY, at(2, 23, 59))
        assert not is_due(ran, DAY, at(3, 2, 59))
        assert is_due(ran, DAY, at(3, 3))

    def test_a_job_run_late_at_night_still_waits_for_the_next(self) -> None:
        assert not is_due(at(2, 23), DAY, at(3, 2, 59))
        assert is_due(at(2, 23), DAY, at(3, 3))

    def test_every_other_night(self) -> None:
        ran = at(2, 3, 1)
        assert not is_due(ran, 2 * DAY, at(3, 12))
        assert is_due(ran, 2 * DAY, at(4, 3))
        # 36 hours is rounded up to two nights, never down to one
        assert not is_due(ran, timedelta(hours=36), at(3, 12))
        assert is_due(ran, timedelta(hours=36), at(4, 3))

    def test_under_a_day_keeps_its_interval(self) -> None:
        assert not is_due(at(2, 10), timedelta(hours=6), at(2, 15, 59))
        assert is_due(at(2, 10), timedelta(hours=6), at(2, 16))

    def test_never_run_is_due_at_once(self) -> None:
        assert is_due(None, DAY, at(2, 9))

    def test_the_night_is_in_the_install_time_zone(self) -> None:
        utc_now = datetime(2026, 3, 2, 20, 0, tzinfo=ZoneInfo("UTC"))  # 04:00 on the 3rd here
        assert last_night(utc_now) == at(3, 3)
        assert last_night(at(3, 2, 59)) == at(2, 3)

    def test_the_hour_is_a_setting(self, settings: Any) -> None:
        settings.HIGHSEAS_NIGHTLY_HOUR = 22
        assert not is_due(at(2, 9), DAY, at(2, 21, 59))
        assert is_due(at(2, 9), DAY, at(2, 22))


def test_an_hour_out_of_range_is_refused_at_start() -> None:
    env = os.environ | {"HIGHSEAS_NIGHTLY_HOUR": "24"}
    started = subprocess.run(
        [sys.executable, "-c", "import highseas.config.settings"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert started.returncode != 0
    assert "ImproperlyConfigured: HIGHSEAS_NIGHTLY_HOUR must be an hour from 0 to 23" in (
        started.stderr
    )
