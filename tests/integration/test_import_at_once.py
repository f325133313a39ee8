"""An import applied at once (``imports.import_at_once``: the command line without
``--dry-run``, the API's ``dry_run=false``): one pass over the file, its lines kept until it
is done, each row written once, with its outcome as its plan, as it is applied. It must do what
a preview of the same data says, resume a kill exactly once, and be reported like a previewed
commit."""

from __future__ import annotations

import contextlib
import io
import random
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from highseas.accounts.models import AuditLog
from highseas.accounts.visibility import Viewer
from highseas.customers.models import Customer
from highseas.engine.errors import ErrorCode, HighSeasError
from highseas.intake import imports
from highseas.intake.importer import RowPlan
from highseas.intake.imports import commit_import, import_at_once, import_summary
from highseas.intake.models import ImportJob, ImportRow, KeptLines
from highseas.pools.models import OwnershipEvent
from highseas.routing.models import AssignmentRule, RoutingCursor
from tests.integration.import_kills import Killed
from tests.integration.test_import import (
    SAMPLE,
    SAMPLE_CREATED,
    _file,
    _random_rows,
    plans,
    preview,
)

pytestmark = pytest.mark.django_db


def at_once(org: dict[str, Any], content: bytes = SAMPLE, **kwargs: Any) -> ImportJob:
    kwargs.setdefault("file_name", "customers.csv")
    return import_at_once(
        Viewer(org["east_manager"]), content=content, pool_id=org["east_pool"].pk, **kwargs
    )


def round_robin(org: dict[str, Any]) -> None:
    """A round-robin rule over the east team, its pointer set: a new pointer starts at a rep
    drawn by the run's seed, which is fixed per job, and a preview is another job."""
    rule = AssignmentRule.objects.create(
        name="全部", target={"team": org["east"].pk, "strategy": "round_robin"}, conditions={}
    )
    RoutingCursor.objects.create(rule=rule, team=org["east"], state={"last": 0})


def test_the_sample_at_once_stores_what_happened_to_every_row(org: dict[str, Any]) -> None:
    round_robin(org)
    planned = plans(preview(org["east_manager"], org["east_pool"]))  # rolled back: no customer

    job = at_once(org)

    assert (job.status, job.total, job.done_rows) == ("done", 14, 14)
    assert plans(job) == planned
    assert not job.rows.filter(action="pending").exists()
    assert not job.rows.filter(is_done=False).exists()
    created = job.rows.filter(action="create")
    assert sorted(created.values_list("line", flat=True)) == SAMPLE_CREATED
    assert set(Customer.objects.values_list("pk", flat=True)) == set(
        created.values_list("customer", flat=True)
    )
    owners = dict(created.values_list("line", "customer__owner"))
    assert owners == dict(created.values_list("line", "owner"))
    summary = import_summary(job)
    assert (summary["created"], summary["total"], summary["done"]) == (10, 14, 14)
    assert summary["duplicates"] == [
        {
            "line": 5,
            "action": "duplicate",
            "customer": job.rows.get(line=2).customer_id,
            "duplicate_line": 2,
            "holder": org["rep_a"].label,
        }
    ]
    assert [e["line"] for e in summary["errors"]] == [6, 7, 11]
    audit = AuditLog.objects.get(action="import")
    assert audit.detail["planned"] == job.planned == {"create": 10, "duplicate": 1, "error": 3}
    assert not KeptLines.objects.exists()  # dropped when done: the rows keep their cells
    assert job.rows.get(line=2).values["name"] == "星辰科技（北京）有限公司"


def test_at_once_writes_each_row_once(org: dict[str, Any]) -> None:
    """Each line's row is inserted done, with its outcome, by the batch that applies it: no
    row is written ``pending`` first and updated afterwards."""
    with CaptureQueriesContext(connection) as seen:
        job = at_once(org)
    assert job.status == "done" and job.rows.count() == 14
    assert _row_updates(seen) == []


def _row_updates(seen: CaptureQueriesContext) -> list[str]:
    table = connection.ops.quote_name(ImportRow._meta.db_table)
    # an ``executemany`` is logged as "N times: UPDATE …"
    return [q["sql"] for q in seen.captured_queries if f"UPDATE {table} " in q["sql"]]


def test_a_job_staged_row_by_row_before_the_kept_file_still_resumes(org: dict[str, Any]) -> None:
    """An import at once killed before its file was kept whole had stored every row
    ``pending`` with its cells: committing such a job applies those rows as it did then."""
    request = {"file_name": "old.csv", "content": SAMPLE, "pool_id": org["east_pool"].pk}
    job, rows = imports._new_job(Viewer(org["east_manager"]), request, at_once=True)
    pending = ((cells, RowPlan(line, "pending").as_dict()) for line, cells in rows)
    job.total = imports._write_rows(job, pending)
    job.options = {**job.options, "staged": True}
    job.status, job.started_at = ImportJob.Status.RUNNING, job.created_at
    job.save()
    assert imports.import_counts(job) == {"pending": 14}

    with CaptureQueriesContext(connection) as seen:
        job = commit_import(Viewer(org["east_manager"]), job.pk)

    assert (job.status, job.done_rows) == ("done", 14)
    assert job.planned == {"create": 10, "duplicate": 1, "error": 3}
    assert not job.rows.filter(is_done=False).exists()
    assert _row_updates(seen)  # each staged row updated with what happened to it
    assert set(Customer.objects.values_list("pk", flat=True)) == set(
        job.rows.filter(action="create").values_list("customer", flat=True)
    )


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    seed=st.integers(0, 10_000),
    size=st.integers(1, 30),
    batch=st.integers(1, 7),
    mode=st.sampled_from(["block", "skip", "merge"]),
)
def test_at_once_does_what_a_preview_of_the_same_data_says(
    org: dict[str, Any], seed: int, size: int, batch: int, mode: str
) -> None:
    with transaction.atomic():
        imports.BATCH_SIZE = batch
        try:
            round_robin(org)
            content = _file(_random_rows(random.Random(seed), size))
            planned = plans(
                preview(org["east_manager"], org["east_pool"], content, on_duplicate=mode)
            )
            job = at_once(org, content, on_duplicate=mode)
            assert job.status == "done"
            assert plans(job) == planned
            creates = job.rows.filter(action="create")
            assert Customer.objects.count() == creates.count()
            assert OwnershipEvent.objects.filter(kind="created").count() == creates.count()
        finally:
            imports.BATCH_SIZE = 500
            transaction.set_rollback(True)


@settings(
    max_examples=10,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(seed=st.integers(0, 10_000), size=st.integers(2, 30), data=st.data())
def test_an_import_at_once_killed_at_any_row_resumes_exactly_once(
    org: dict[str, Any], seed: int, size: int, data: st.DataObject
) -> None:
    kill_at = data.draw(st.integers(1, size))

    def kill(done: int, total: int) -> None:
        if done == kill_at:
            raise Killed

    with transaction.atomic():
        imports.BATCH_SIZE = 4
        try:
            content = _file(_random_rows(random.Random(seed), size))
            planned = plans(preview(org["east_manager"], org["east_pool"], content))
            with contextlib.suppress(Killed):
                at_once(org, content, progress=kill)
            job = ImportJob.objects.get(options__at_once=True)
            done_before = job.rows.filter(is_done=True).count()
            assert done_before == 4 * ((kill_at - 1) // 4)  # the killed batch left nothing
            assert job.rows.filter(is_done=False).exclude(action="pending").count() == 0
            job = commit_import(Viewer(org["east_manager"]), job.pk)
            assert job.status == "done"
            assert plans(job) == planned
            created = job.rows.filter(action="create")
            assert set(Customer.objects.values_list("pk", flat=True)) == set(
                created.values_list("customer", flat=True)
            )
            assert OwnershipEvent.objects.filter(kind="created").count() == created.count()
        finally:
            imports.BATCH_SIZE = 500
            transaction.set_rollback(True)


BROKEN_LATE = SAMPLE + ('"未闭合的引号' + "长" * 140_000 + "\n").encode()  # past csv's field limit


@pytest.mark.parametrize("start", ["preview", "at_once"])
def test_a_file_that_breaks_part_of_the_way_leaves_no_job_and_no_rows(
    org: dict[str, Any], monkeypatch: pytest.MonkeyPatch, start: str
) -> None:
    monkeypatch.setattr(imports, "WRITE_CHUNK", 5)  # some rows stored before the break
    with pytest.raises(HighSeasError) as refused:
        if start == "preview":
            preview(org["east_manager"], org["east_pool"], BROKEN_LATE)
        else:
            at_once(org, BROKEN_LATE)
    assert refused.value.code is ErrorCode.VALIDATION_ERROR
    assert not ImportJob.objects.exists()
    assert not ImportRow.objects.exists()
    assert not Customer.objects.exists()


def test_an_import_killed_while_its_file_was_kept_is_not_applied(
    org: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A process killed outright (no handler runs) while the file's lines were kept leaves a
    job that is not staged: committing it would import part of the file, so it is refused,
    and the same file run again is a new import."""

    keep = KeptLines.objects.create

    def killed_after_one_run(**kwargs: Any) -> KeptLines:
        if KeptLines.objects.exists():
            raise Killed
        return keep(**kwargs)

    @contextlib.contextmanager
    def no_handler(job: ImportJob) -> Iterator[None]:
        yield

    monkeypatch.setattr(imports, "KEPT_LINES", 5)
    monkeypatch.setattr(KeptLines.objects, "create", killed_after_one_run)
    monkeypatch.setattr(imports, "_discarded_on_failure", no_handler)
    with pytest.raises(Killed):
        at_once(org)
    job = ImportJob.objects.get()
    assert (job.status, job.rows.count(), job.kept.count()) == ("previewed", 0, 1)
    with pytest.raises(HighSeasError) as refused:
        commit_import(Viewer(org["east_manager"]), job.pk)
    assert refused.value.code is ErrorCode.STATE_CONFLICT
    assert not Customer.objects.exists()
    assert not job.rows.filter(is_done=True).exists()
    assert imports.unfinished_import(Viewer(org["east_manager"]), SAMPLE, job.pool_id) is None


def test_an_import_killed_before_its_first_batch_resumes_with_the_same_file(
    org: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    def killed_at_the_start(*args: Any, **kwargs: Any) -> ImportJob:
        raise Killed

    monkeypatch.setattr(imports, "commit_import", killed_at_the_start)
    with pytest.raises(Killed):
        at_once(org)
    monkeypatch.undo()
    job = ImportJob.objects.get()
    assert (job.status, job.options["staged"], job.done_rows) == ("running", True, 0)
    kept = [line for run in job.kept.order_by("first_line") for line, _cells in run.cells]
    assert (job.rows.count(), kept) == (0, list(range(2, 16)))  # every line kept, none applied
    assert imports.unfinished_import(Viewer(org["east_manager"]), SAMPLE, job.pool_id) == job
    assert commit_import(Viewer(org["east_manager"]), job.pk).status == "done"
    assert Customer.objects.count() == len(SAMPLE_CREATED)


def test_an_import_at_once_that_met_a_conflict_resumes(
    org: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A conflict inside a batch (a routing pointer another run moved) ends a previewed
    import for good, since its preview is out of date; one applied at once has no preview:
    the same file run again resumes it."""
    real_batch = imports._apply_file_batch
    calls = []

    def conflict_in_the_second_batch(*args: Any, **kwargs: Any) -> int:
        calls.append(1)
        if len(calls) == 2:
            raise HighSeasError(ErrorCode.STATE_CONFLICT, "moved meanwhile")
        return real_batch(*args, **kwargs)

    monkeypatch.setattr(imports, "BATCH_SIZE", 4)
    monkeypatch.setattr(imports, "_apply_file_batch", conflict_in_the_second_batch)
    with pytest.raises(HighSeasError):
        at_once(org)
    monkeypatch.setattr(imports, "_apply_file_batch", real_batch)
    job = ImportJob.objects.get()
    assert (job.status, job.done_rows) == ("failed", 4)
    assert imports.unfinished_import(Viewer(org["east_manager"]), SAMPLE, job.pool_id) == job
    cli(str(_written(SAMPLE)), "--pool", str(org["east_pool"].pk), "--as", "mgr_east")
    job.refresh_from_db()
    assert job.status == "done" and ImportJob.objects.count() == 1
    assert Customer.objects.count() == len(SAMPLE_CREATED)


def test_the_page_of_an_unfinished_import_at_once_counts_its_rows(
    org: dict[str, Any], monkeypatch: pytest.MonkeyPatch, client: Any
) -> None:
    def kill(done: int, total: int) -> None:
        if done == 5:
            raise Killed

    monkeypatch.setattr(imports, "BATCH_SIZE", 4)
    with contextlib.suppress(Killed):
        at_once(org, progress=kill)
    job = ImportJob.objects.get()
    counts = imports.import_counts(job)
    assert counts == {"create": 3, "duplicate": 1, "pending": 10}  # lines 2-5 done
    assert import_summary(job)["created"] == 3
    client.force_login(org["east_manager"])
    page = client.get(f"/console/imports/{job.pk}/").content.decode()
    assert 'data-count="pending"' in page and 'data-count="create"' in page
    previewed = preview(org["east_manager"], org["east_pool"])
    page = client.get(f"/console/imports/{previewed.pk}/").content.decode()
    assert 'data-count="pending"' not in page  # a preview has no row to wait for


def test_a_rep_may_not_import_at_once_and_nothing_is_stored(org: dict[str, Any]) -> None:
    with pytest.raises(HighSeasError) as refused:
        import_at_once(
            Viewer(org["rep_a"]), content=SAMPLE, pool_id=org["east_pool"].pk, file_name="x.csv"
        )
    assert refused.value.code is ErrorCode.PERMISSION_DENIED
    assert not ImportJob.objects.exists()
    assert not Customer.objects.exists()


def test_the_cli_imports_at_once_and_a_rerun_resumes_a_killed_import(
    org: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "customers.csv"
    path.write_bytes(SAMPLE)

    def kill(done: int, total: int) -> None:
        if done == 3:
            raise Killed

    monkeypatch.setattr(imports, "BATCH_SIZE", 2)
    with pytest.raises(Killed):
        at_once(org, progress=kill)
    cli(str(path), "--pool", str(org["east_pool"].pk), "--as", "mgr_east")
    job = ImportJob.objects.get()
    assert (job.status, job.options["at_once"]) == ("done", True)
    assert Customer.objects.count() == len(SAMPLE_CREATED)

    again = tmp_path / "again.csv"
    again.write_bytes(SAMPLE.replace(b"\n", b"\r\n"))  # another file: a new import
    out = cli(str(again), "--pool", str(org["east_pool"].pk), "--as", "mgr_east")
    newest = ImportJob.objects.order_by("-pk").first()
    assert newest is not None and newest.pk != job.pk
    assert newest.options["at_once"] and newest.status == "done"
    assert Customer.objects.count() == len(SAMPLE_CREATED)  # every row a duplicate now
    assert f"import #{newest.pk} again.csv: done" in out


def _written(content: bytes) -> Path:
    path = Path(tempfile.mkdtemp()) / "customers.csv"
    path.write_bytes(content)
    return path


def cli(*args: str) -> str:
    out = io.StringIO()
    call_command("import_", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()
