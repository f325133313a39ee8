"""``highseas import`` killed for real (SIGKILL) in the middle of its commit, then run again
with the same file: its helper process (``intake.preparing``) goes with it, and the second
run resumes the job and creates exactly the planned customers, each once, with its ledger
row. PostgreSQL: the test and the commands share one committed database."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import connection

from highseas.customers.models import Customer
from highseas.intake.models import ImportJob
from highseas.pools.models import OwnershipEvent
from tests.integration.test_import_helper import _file
from tests.integration.test_scale_out import database_url

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres_only]

ROWS = 9000  # five batches of 2,000 rows on PostgreSQL


def _group(pgid: int) -> list[int]:
    """The live processes of a process group (read from /proc; a zombie has exited)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            state, _parent, group = stat.rsplit(")", 1)[1].split()[:3]
            if int(group) == pgid and state != "Z":
                found.append(int(entry.name))
    return found


def test_an_import_killed_mid_commit_resumes_exactly_once(
    org: dict[str, object], tmp_path: Path
) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("the test and the commands share one committed database: PostgreSQL")
    admin, pool = org["admin"], org["east_pool"]
    path = tmp_path / "customers.csv"
    path.write_bytes(_file(ROWS))
    command = [
        str(Path(sys.executable).with_name("highseas")),
        *("import", str(path), "--pool", str(pool.pk), "--as", admin.username),  # type: ignore[attr-defined]
    ]
    env = {**os.environ, "DATABASE_URL": database_url()}
    log = (tmp_path / "first.log").open("wb")
    first = subprocess.Popen(
        command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    deadline = time.monotonic() + 240
    job = None
    while time.monotonic() < deadline and first.poll() is None:
        job = ImportJob.objects.filter(status=ImportJob.Status.RUNNING, done_rows__gt=0).first()
        if job is not None:
            break
        time.sleep(0.05)
    assert job is not None, (tmp_path / "first.log").read_text()
    assert len(_group(first.pid)) == 2  # the command and its helper
    first.send_signal(signal.SIGKILL)
    first.wait()
    deadline = time.monotonic() + 10
    while _group(first.pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _group(first.pid) == [], "the helper outlived its command"
    job.refresh_from_db()
    assert 0 < job.done_rows < job.total and job.status == ImportJob.Status.RUNNING

    again = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stdout + again.stderr
    job.refresh_from_db()
    assert job.status == ImportJob.Status.DONE and job.done_rows == job.total == ROWS
    assert ImportJob.objects.count() == 1  # the same file resumed its job
    created = job.rows.filter(action="create")
    assert created.count() > ROWS * 3 // 4
    assert set(Customer.objects.values_list("pk", flat=True)) == set(
        created.values_list("customer", flat=True)
    )
    assert OwnershipEvent.objects.filter(kind="created").count() == created.count()
