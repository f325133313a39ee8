"""``python -m benchmarks.web_claims``, the smallest run: reps in Chromium click claims on the
pool page of the embedded server it starts, on a fresh data directory; every click is answered
by a notice and timed, no customer is claimed twice, and the raw baseline is printed beside."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.django_db
def test_reps_click_claims_in_the_browser_and_each_click_is_timed(tmp_path: Path) -> None:
    if connection.vendor != "sqlite":
        pytest.skip("a fresh data directory is a SQLite database: the SQLite run covers it")
    env = {key: value for key, value in os.environ.items() if key != "DATABASE_URL"}
    env["HIGHSEAS_DATA_DIR"] = str(tmp_path)
    command = [sys.executable, "-m", "benchmarks.web_claims", "--customers", "400"]
    command += ["--reps", "3", "--clicks", "6", "--due", "5", "--interval", "1"]
    done = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    web, raw = (json.loads(line) for line in done.stdout.splitlines())
    assert web["path"] == "browser_click_to_notice" and web["server"] == "embedded"
    assert web["clicks"] == 18 == web["claims"] + web["refused"]
    assert web["claims"] >= 1 and 0 < web["p50_ms"] <= web["p99_ms"] <= web["max_ms"]
    # each click's request is timed too, and waits no longer than its click
    assert web["request_waits_timed"] == 18
    assert 0 < web["request_wait_p99_ms"] <= web["p99_ms"]
    assert web["request_wait_max_ms"] <= web["max_ms"]
    assert web["double_claims"] == 0 and web["owner_mismatches"] == 0
    assert web["ledger_rows"] == web["claims"]  # one claimed row per customer won
    assert raw["path"] == "raw_update_and_ledger" and raw["claims"] == web["claims"]
    assert "click to notice" in done.stderr
