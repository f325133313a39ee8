"""A commit killed at a row, then resumed: shared by the import tests."""

from __future__ import annotations

import contextlib

from highseas.accounts.models import User
from highseas.accounts.visibility import Viewer
from highseas.customers.models import Customer
from highseas.intake.imports import commit_import
from highseas.intake.models import ImportJob
from highseas.pools.models import OwnershipEvent


class Killed(Exception):
    pass


def killed_then_resumed(importer: User, job: ImportJob, kill_at: int) -> ImportJob:
    """Commit ``job``, killed when its progress reaches row ``kill_at``, then commit it again;
    check that it is done and created each of its customers once, with its ledger row."""

    def kill(done: int, total: int) -> None:
        if done == kill_at:
            raise Killed

    with contextlib.suppress(Killed):
        commit_import(Viewer(importer), job.pk, progress=kill)
    job = commit_import(Viewer(importer), job.pk)
    created = job.rows.filter(action="create")
    assert job.status == "done"
    assert set(Customer.objects.values_list("pk", flat=True)) == set(
        created.values_list("customer", flat=True)
    )
    assert OwnershipEvent.objects.filter(kind="created").count() == created.count()
    return job
