"""Each ``highseas bench`` as a newcomer runs it on a fresh data directory (an empty SQLite
database, no ``highseas init``): a bench that builds its own dataset migrates the database
and measures; one that measures the demo organization says which command to run first,
instead of failing on a missing table."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection

pytestmark = pytest.mark.django_db

# The smallest run of each bench that times every path it prints.
MEASURED = {
    "claim": ("--customers", "300", "--claims", "20", "--reps", "3"),
    "import": ("--import-rows", "200", "--reps", "3"),
    "sweep": ("--customers", "300", "--reps", "3"),
    "assign": ("--backlog", "1000", "--reps", "5", "--rules", "4", "--service-sample", "20"),
    "dedup": (
        "--customers",
        "300",
    ),
    "search": (
        "--customers",
        "300",
    ),
    "smart": ("--deals", "300", "--backlog", "200", "--reps", "3"),
}
# The benches of the demo organization, and what they ask for first.
NEEDS_DEMO = {
    "pages": (("--customers", "300", "--requests", "1"), "highseas init"),
    "insights": ((), "highseas demo"),
    "rescore": (("--changes", "10"), "highseas demo"),
}


def _bench(bench: str, args: tuple[str, ...], data_dir: Path) -> subprocess.CompletedProcess[str]:
    if connection.vendor != "sqlite":
        pytest.skip("a fresh data directory is a SQLite database: the SQLite run covers it")
    env = {key: value for key, value in os.environ.items() if key != "DATABASE_URL"}
    env["HIGHSEAS_DATA_DIR"] = str(data_dir)
    command = [str(Path(sys.executable).with_name("highseas")), "bench", bench, *args]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("bench", sorted(MEASURED))
def test_a_bench_of_its_own_dataset_migrates_a_fresh_data_directory(
    bench: str, tmp_path: Path
) -> None:
    done = _bench(bench, MEASURED[bench], tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert lines and all("path" in line and line.get("bench", bench) == bench for line in lines)


@pytest.mark.parametrize("bench", sorted(NEEDS_DEMO))
def test_a_bench_of_the_demo_says_what_to_run_first(bench: str, tmp_path: Path) -> None:
    args, first = NEEDS_DEMO[bench]
    done = _bench(bench, args, tmp_path)
    assert done.returncode == 1
    assert done.stderr.splitlines()[-1].startswith("CommandError: "), done.stderr[-3000:]
    assert first in done.stderr.splitlines()[-1]
    assert "Traceback" not in done.stderr
