"""Imports (SPEC §10): preview a file, then commit exactly what the preview said.

``preview_import`` reads the file, stores each row's cells on an ``ImportRow`` and plans it by
running the very code the commit runs (``intake.importer``) over the whole file in one
transaction that is then rolled back — like the sweep's and the assignment's previews. The
plans are spooled to a temporary file while the transaction is open, and written as the
rows' planned actions after the rollback. The customers that transaction writes are not
indexed for search (``fts.search_upkeep_off``): nothing the planning reads comes from the
search indexes (duplicates are found by their keys), and none of those rows outlives it. Nor
does it lock the reps it gives customers to (``facts.reps_read_not_locked``): it may run for a
minute, and a claim by any rep the rules reach would wait on it all that time. On SQLite, whose
one write transaction excludes every other writer, a file of more than ``IN_PLACE_ROWS`` rows
is planned on a private copy of the database (``config.sqlite.snapshot``): the copy costs
about a second per 200 MB of database, the write lock held in place would stall every claim of
the server for the whole preview (and fail them past the connection's timeout); a smaller file
is planned in place, in a fraction of a second.

``commit_import`` applies the rows in the preview's batches (``batch_size`` rows, kept in the
job's ``options``), each batch in its own transaction and routing run, in line order:

1. the batch's stored cells are read and its rows prepared (decrypted, parsed, checked, their
   duplicate keys worked out: ``Importer.prepare``, no database work) before its transaction;
   in the transaction the rows still to do are read again, locked, without their cells; each
   is applied by the same code as in the preview, and each outcome's ``signature`` (action,
   error code, whose duplicate, which owner) is compared with the plan. Any difference
   means the database changed since the preview: the batch rolls back, the job is marked
   ``failed`` with ``state_conflict`` naming the line, and the call refuses with
   ``state_conflict``; batches before it stay done;
2. the rows are marked done with their customer in the same transaction, so a commit killed
   anywhere (its batch rolls back) and started again resumes after the last done batch and
   creates nobody twice; a finished job commits as a no-op;
3. when no row is left, the job is marked ``done`` and the import audit-logged, once.

``import_at_once`` is for a caller that applies a file without reading a plan first (the
command line without ``--dry-run``, the API's ``dry_run=false``): the file's mapped cells are
kept (``KeptLines``: runs of ``KEPT_LINES`` lines, each one encrypted value), and the commit's
batches apply them, each writing its rows with what happened to them (their plans), done, in
the transaction that applies them, instead of comparing outcomes with plans; the job's counts
are those outcomes, and the kept lines are dropped when the job is done. One pass over the
file instead of two (a preview costs about what its commit does), and each row written once:
storing every row ``pending`` first and updating it when applied (as jobs staged before
``KeptLines`` still are, and still resume) cost a quarter of the CPU of a 100,000-row import
on PostgreSQL (``benchmarks/README.md``).

The preview's planning and the commit's batches hold off Python's full (oldest-generation)
garbage collections (``routing.runs.full_collections_held``, as an assignment run does): the
collector starts one each time the long-lived heap grows by a quarter, and each walks every
object the process holds (Django's, the application's, the dictionaries': some 350,000) —
six in a 20,000-row commit, a sixth of its time. Young collections go on.

Who may import: managers into pools they are members of, admins into any pool; an owner
column gives customers only to users the importer may give to; ``override_cap`` is for admins.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from datetime import datetime
from itertools import chain, islice
from typing import IO, Any, Required, TypedDict, Unpack, cast

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, ExpressionWrapper, F, JSONField, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from highseas.accounts.audit import record_audit
from highseas.accounts.models import AuditLog
from highseas.accounts.visibility import Viewer
from highseas.config.sqlite.snapshot import on_a_copy
from highseas.customers.crypto import decrypt_json, encrypt_json
from highseas.customers.fts import search_upkeep_off
from highseas.engine.errors import ErrorCode, HighSeasError
from highseas.intake.columns import HISTORY_FIELDS, checked_mapping, guess_mapping
from highseas.intake.importer import Importer, Prepared, RowPlan
from highseas.intake.models import ImportJob, ImportMapping, ImportRow, KeptLines
from highseas.intake.preparing import prepared_batches
from highseas.intake.reading import Table, read_table
from highseas.pools import leases
from highseas.pools.authority import is_member
from highseas.pools.facts import reps_read_not_locked
from highseas.pools.models import Pool
from highseas.pools.rows import columns, insert_rows, json_adapter
from highseas.pools.set_update import update_rows
from highseas.routing.runs import full_collections_held

__all__ = [
    "commit_import",
    "guess_mapping",
    "import_at_once",
    "import_counts",
    "import_job",
    "import_rows",
    "import_summary",
    "preview_import",
    "remembered_mapping",
    "unfinished_import",
]

BATCH_SIZE: int | None = None  # rows per transaction; None: the database's (BATCH_ROWS)
# A batch is one transaction and one routing run: larger batches share the run's fixed work
# (rules, roster, holdings, cursors, the run's own rows) among more rows, and on SQLite the
# pages each transaction writes to the WAL: rows of one batch that share a page of an index
# (the duplicate keys' blind values land at random) write it once. A 100,000-row commit in
# batches of 1,000 wrote 38 KB per row. SQLite has one writer at a time, so its batches stay
# short enough not to hold claims up for long (about a second on two shared cores).
BATCH_ROWS = {"sqlite": 2000}
DEFAULT_BATCH_ROWS = 2000
DEFAULT_MAX_BYTES = 100 << 20
WRITE_CHUNK = 1000
# On SQLite, a preview of more rows than this plans on a copy of the database (see the module):
# in place, 500 rows hold the write lock for about 0.2 s.
IN_PLACE_ROWS = 500
# An import applied at once keeps its file in runs of this many lines (``KeptLines``): each
# run one encrypted value, written and read back one at a time, so neither end holds the
# whole file twice.
KEPT_LINES = 10_000
Progress = Callable[[int, int], None]  # (rows done, rows in the job)


def batch_size() -> int:
    """Rows per batch for a new preview; its commit keeps the preview's (``options.batch``),
    so that both route the same runs of rows."""
    return BATCH_SIZE or BATCH_ROWS.get(connection.vendor, DEFAULT_BATCH_ROWS)


def in_place_rows() -> int:
    return int(getattr(settings, "HIGHSEAS_IMPORT_PREVIEW_IN_PLACE_ROWS", IN_PLACE_ROWS))


def max_bytes() -> int:
    return int(getattr(settings, "HIGHSEAS_IMPORT_MAX_BYTES", DEFAULT_MAX_BYTES))


def require_importer(viewer: Viewer, pool_id: int | None = None) -> Pool | None:
    if not viewer.is_manager_or_admin:
        raise HighSeasError(
            ErrorCode.PERMISSION_DENIED, _("Only managers and admins import customers.")
        )
    if pool_id is None:
        return None
    pool = Pool.objects.filter(pk=pool_id).first()
    if pool is None:
        raise HighSeasError(ErrorCode.NOT_FOUND, _("No such pool."), pool=pool_id)
    if not viewer.is_admin and not is_member(viewer, pool.pk):
        raise HighSeasError(
            ErrorCode.NOT_POOL_MEMBER, _("You are not a member of that pool."), pool=pool.pk
        )
    return pool


def remembered_mapping(viewer: Viewer) -> dict[str, str]:
    """The mapping the viewer's team used last (empty when none)."""
    team_id = viewer.user.team_id
    if team_id is None:
        return {}
    found = ImportMapping.objects.filter(team_id=team_id).values_list("mapping", flat=True)
    return dict(found.first() or {})


def _remember(viewer: Viewer, mapping: dict[str, str]) -> None:
    if viewer.user.team_id is not None:
        ImportMapping.objects.update_or_create(
            team_id=viewer.user.team_id, defaults={"mapping": mapping}
        )


def _mapping_for(
    viewer: Viewer, given: dict[str, Any] | None, headers: list[str]
) -> dict[str, str]:
    """The caller's mapping, else the team's remembered one where it fits these headers,
    completed by what the headers say."""
    if given is not None:
        return checked_mapping(given, headers)
    guessed = guess_mapping(headers)
    remembered = {h: f for h, f in remembered_mapping(viewer).items() if h in headers}
    taken = set(remembered.values())
    merged = {**{h: f for h, f in guessed.items() if f not in taken}, **remembered}
    return checked_mapping(merged, headers)


def _cells(
    table: Table, mapping: dict[str, str], *, history: bool
) -> Iterator[tuple[int, dict[str, str]]]:
    columns = [
        (table.headers.index(header), field)
        for header, field in mapping.items()
        if history or field not in HISTORY_FIELDS
    ]
    for line, cells in table.rows:
        yield line, {field: cells[index] for index, field in columns if cells[index]}


def _batches(rows: Iterator[Any], size: int) -> Iterator[list[Any]]:
    while batch := list(islice(rows, size)):
        yield batch


def _choice(on_duplicate: str) -> str:
    if on_duplicate not in ImportJob.OnDuplicate.values:
        raise HighSeasError(
            ErrorCode.VALIDATION_ERROR,
            _("on_duplicate is block, skip or merge."),
            errors={"on_duplicate": [f"one of {', '.join(ImportJob.OnDuplicate.values)}"]},
        )
    return on_duplicate


def preview_import(
    viewer: Viewer,
    *,
    progress: Progress | None = None,
    now: datetime | None = None,
    **request: Unpack[ImportRequest],
) -> ImportJob:
    """Plan every row of the file (see the module and ``ImportRequest``); the job comes back
    ``previewed``. ``progress`` hears (rows planned, 0) after each batch: the total is known
    at the end."""
    job, rows = _new_job(viewer, request)
    with _discarded_on_failure(job), tempfile.TemporaryFile("w+", encoding="utf-8") as spool:
        planned = _plan(job, viewer, rows, spool, progress, now)
        spool.seek(0)
        _write_rows(job, (json.loads(text) for text in spool))
    job.total = sum(planned.values())
    job.planned = dict(planned)
    job.save(update_fields=["total", "planned"])
    return job


def import_at_once(
    viewer: Viewer,
    *,
    progress: Progress | None = None,
    now: datetime | None = None,
    **request: Unpack[ImportRequest],
) -> ImportJob:
    """Import the file without a preview first (the command line without ``--dry-run``, the
    API's ``dry_run=false``: nobody reads a plan before it is applied). Its mapped cells are
    kept (``KeptLines``), then applied by the commit's batches (``commit_import``), each
    writing its rows with what happened to them, in the transaction that applies them. The
    rows go through the same code as a previewed commit's, which also compares each with its
    plan; here there is none to compare with, so a file costs one pass instead of two. A
    killed import resumes like a killed commit (``unfinished_import``), from the kept lines."""
    job, rows = _new_job(viewer, request, at_once=True)
    with _discarded_on_failure(job):
        total = _keep_lines(job, rows)
    # the file kept: it may be applied, and it is started (a run of the same file resumes it)
    job.total = total
    job.options = {**job.options, "staged": True, "file": True}
    job.status, job.started_at = ImportJob.Status.RUNNING, timezone.now()
    job.save(update_fields=["total", "options", "status", "started_at"])
    return commit_import(viewer, job.pk, progress=progress, now=now)


@contextmanager
def _discarded_on_failure(job: ImportJob) -> Iterator[None]:
    """Delete the job and the rows it stored when reading the file fails part of the way (a
    malformed line deep in a CSV, a damaged sheet) or the storing does: no half-read file is
    left to commit, nor its cells kept."""
    try:
        yield
    except BaseException:
        ImportJob.objects.filter(pk=job.pk).delete()
        raise


def _keep_lines(job: ImportJob, rows: Iterator[tuple[int, dict[str, str]]]) -> int:
    """The file's lines kept in runs (``KeptLines``), as a preview's rows are stored: each run
    its own transaction. Answers how many lines."""
    kept = 0
    for run in _batches(rows, KEPT_LINES):
        with transaction.atomic():
            KeptLines.objects.create(job=job, first_line=run[0][0], cells=run)
        kept += len(run)
    return kept


class ImportRequest(TypedDict, total=False):
    """What an import is asked to do: the file (its name and bytes), the pool, and optionally
    the column mapping (else the team's remembered one completed by the headers), what to do
    with a duplicate (``block``), whether to import history (deals and activities: when the
    mapping maps a history column), and an admin's override of the holding caps."""

    file_name: Required[str]
    content: Required[bytes]
    pool_id: Required[int]
    mapping: dict[str, Any] | None
    on_duplicate: str
    history: bool | None
    override_cap: bool


def _new_job(
    viewer: Viewer, request: ImportRequest, *, at_once: bool = False
) -> tuple[ImportJob, Iterator[tuple[int, dict[str, str]]]]:
    """The checked request as a new job, and the file's rows as mapped cells by line."""
    file_name, content, pool_id = request["file_name"], request["content"], request["pool_id"]
    mapping, history = request.get("mapping"), request.get("history")
    override_cap = request.get("override_cap", False)
    on_duplicate = request.get("on_duplicate", ImportJob.OnDuplicate.BLOCK.value)
    pool = require_importer(viewer, pool_id)
    assert pool is not None
    if override_cap and not viewer.is_admin:
        raise HighSeasError(
            ErrorCode.PERMISSION_DENIED, _("Only an admin may override holding caps.")
        )
    on_duplicate = _choice(on_duplicate)
    if len(content) > max_bytes():
        raise HighSeasError(
            ErrorCode.VALIDATION_ERROR,
            _("The file is larger than %(mb)s MB.") % {"mb": max_bytes() >> 20},
            errors={"file": ["too large"]},
        )
    table = read_table(content)
    chosen = _mapping_for(viewer, mapping, table.headers)
    if history is None:
        history = any(field in HISTORY_FIELDS for field in chosen.values())
    options = {"history": history, "override_cap": override_cap, "batch": batch_size()}
    job = ImportJob.objects.create(
        created_by=viewer.user,
        pool=pool,
        file_name=file_name[:255],
        sha256=hashlib.sha256(content).hexdigest(),
        mapping=chosen,
        on_duplicate=on_duplicate,
        options={**options, "at_once": True} if at_once else options,
        created_at=timezone.now(),
    )
    _remember(viewer, chosen)
    return job, _cells(table, chosen, history=history)


def _plan(
    job: ImportJob,
    viewer: Viewer,
    rows: Iterator[tuple[int, dict[str, str]]],
    spool: IO[str],
    progress: Progress | None,
    now: datetime | None,
) -> Counter[str]:
    importer = Importer(job, viewer.user, now=now, preview=True)
    planned: Counter[str] = Counter()
    first = list(islice(rows, in_place_rows() + 1))
    batches = _batches(chain(first, rows), job.options["batch"])
    with (
        on_a_copy() if len(first) > in_place_rows() else nullcontext(False),
        transaction.atomic(),
        search_upkeep_off(connection),
        reps_read_not_locked(),
        full_collections_held(),
        prepared_batches(importer, batches, _same) as pairs,
    ):
        for index, (batch, prepared) in enumerate(pairs):
            plans = importer.apply_prepared(prepared, index)
            for (_line, cells), plan in zip(batch, plans, strict=True):
                spool.write(json.dumps([cells, plan.as_dict()], ensure_ascii=False) + "\n")
                planned[plan.action] += 1
            if progress:
                progress(sum(planned.values()), 0)
        transaction.set_rollback(True)
    return planned


def _same(rows: list[tuple[int, dict[str, str]]]) -> list[tuple[int, dict[str, str]]]:
    return rows


ROW_FIELDS = (
    *("job", "line", "values", "action", "code", "detail", "duplicate_of", "duplicate_line"),
    *("holder", "owner", "routed", "customer", "is_done"),
)


def _write_rows(job: ImportJob, rows: Iterator[Any]) -> int:
    """The rows (cells and plan each), as plain values (``pools.rows``: a model instance per
    row would cost more than the insert); the cells encrypted as ``ImportRow.values`` stores
    them. Each chunk is one transaction: outside one, SQLite's ``executemany`` commits every
    row by itself (a WAL commit a row, twice the insert's own work). Answers how many."""
    written = 0
    for chunk in _batches(rows, WRITE_CHUNK):
        with transaction.atomic():
            _insert_planned(job, chunk)
        written += len(chunk)
    return written


def _insert_planned(job: ImportJob, chunk: list[Any], *, done: bool = False) -> None:
    """Rows (cells and plan each) planned (a preview's: its plans' customers were rolled
    back), or ``done``, with the customer each made."""
    as_json = json_adapter()
    insert_rows(
        ImportRow,
        ROW_FIELDS,
        [
            (
                *(job.pk, plan["line"], as_json(encrypt_json(cells) if cells else cells)),
                *(plan["action"], plan["code"]),
                plan["detail"],
                None if plan["duplicate_line"] else plan["duplicate_of"],
                *(plan["duplicate_line"], plan["holder"], plan["owner_id"], plan["routed"]),
                plan["customer_id"] if done else None,
                done,
            )
            for cells, plan in chunk
        ],
    )


def _job(viewer: Viewer, job_id: int) -> ImportJob:
    require_importer(viewer)
    job = ImportJob.objects.select_related("pool").filter(pk=job_id).first()
    if job is None or not (viewer.is_admin or job.created_by_id == viewer.user.pk):
        raise HighSeasError(ErrorCode.NOT_FOUND, _("No such import."), job=job_id)
    return job


def import_job(viewer: Viewer, job_id: int) -> ImportJob:
    """An import its creator (or an admin) may see."""
    return _job(viewer, job_id)


def unfinished_import(viewer: Viewer, content: bytes, pool_id: int) -> ImportJob | None:
    """The viewer's commit of this very file into this pool that started and did not finish
    (killed, or stopped by an error other than a conflict): committing it again resumes it."""
    require_importer(viewer, pool_id)
    started = ImportJob.objects.filter(
        created_by=viewer.user,
        pool_id=pool_id,
        sha256=hashlib.sha256(content).hexdigest(),
        started_at__isnull=False,
        status__in=[ImportJob.Status.RUNNING, ImportJob.Status.FAILED],
    ).order_by("-pk")
    return next(
        (
            job
            for job in started[:20]
            # a previewed import that met a change since its preview must be previewed again;
            # one applied at once has no preview to disagree with: it resumes
            if job.error.get("code") != ErrorCode.STATE_CONFLICT or job.at_once
        ),
        None,
    )


def import_rows(
    viewer: Viewer, job_id: int, *, after_line: int = 0, limit: int = 200
) -> QuerySet[ImportRow]:
    """The job's rows after ``after_line``, in line order, at most ``limit`` (≤ 1000)."""
    job = _job(viewer, job_id)
    limit = max(1, min(int(limit), 1000))
    return job.rows.filter(line__gt=after_line).order_by("line")[:limit]


def import_counts(job: ImportJob) -> dict[str, int]:
    """The job's rows by action: its plan, or for an import applied at once that has not
    finished, what its rows say so far (``pending``: not reached yet)."""
    if job.at_once and job.status != ImportJob.Status.DONE:
        counts = _counted(job)
        if (left := job.total - sum(counts.values())) > 0:  # lines of its file not applied yet
            pending = ImportRow.Action.PENDING.value
            counts[pending] = counts.get(pending, 0) + left
        return counts
    return dict(job.planned)


def _counted(job: ImportJob) -> dict[str, int]:
    return dict(job.rows.values_list("action").annotate(n=Count("id")).order_by())


def import_summary(job: ImportJob, *, limit: int = 1000) -> dict[str, Any]:
    """Counts, and the first ``limit`` duplicates and errors, by line."""
    counts = import_counts(job)
    rows = job.rows.order_by("line")
    duplicates = rows.filter(
        action__in=[ImportRow.Action.DUPLICATE, ImportRow.Action.SKIP, ImportRow.Action.MERGE]
    )
    errors = rows.filter(action=ImportRow.Action.ERROR)
    created = rows.filter(action=ImportRow.Action.CREATE)
    shown = list(duplicates[:limit])
    by_line = dict(
        rows.filter(line__in=[r.duplicate_line for r in shown if r.duplicate_line]).values_list(
            "line", "customer_id"
        )
    )
    return {
        "id": job.pk,
        "status": job.status,
        "file_name": job.file_name,
        "pool": job.pool_id,
        "on_duplicate": job.on_duplicate,
        "mapping": job.mapping,
        "total": job.total,
        "done": job.done_rows,
        "created": counts.get(ImportRow.Action.CREATE, 0),
        "skipped": counts.get(ImportRow.Action.SKIP, 0),
        "merged": counts.get(ImportRow.Action.MERGE, 0),
        "assigned": created.filter(owner__isnull=False).count(),
        "duplicates": [
            {
                "line": r.line,
                "action": r.action,
                "customer": r.duplicate_of_id or by_line.get(r.duplicate_line or 0),
                "duplicate_line": r.duplicate_line,
                "holder": r.holder,
            }
            for r in shown
        ],
        "errors": [{"line": r.line, "code": r.code, "detail": r.detail} for r in errors[:limit]],
        "error": job.error,
    }


def commit_import(
    viewer: Viewer,
    job_id: int,
    *,
    progress: Progress | None = None,
    now: datetime | None = None,
) -> ImportJob:
    """Apply the previewed rows (see the module's steps); resumes a killed commit."""
    job = _job(viewer, job_id)
    require_importer(viewer, job.pool_id)
    if job.status == ImportJob.Status.DONE:
        return job
    if job.at_once and not job.options.get("staged"):
        raise HighSeasError(
            ErrorCode.STATE_CONFLICT,
            _("This import stopped while its file was being read; import the file again."),
            job=job.pk,
        )
    # one commit of a job at a time: a second (a double click, the CLI beside the console)
    # finds the job as the first leaves it, instead of screening the rows the first is writing
    # (a commit killed with its process is taken over at once on the same host, after the
    # lease lapses from another)
    with leases.held(f"import:{job.pk}", leases.clock(), from_the_dead=True) as taken:
        if taken:
            _commit_walk(job, viewer, progress, now)
    job.refresh_from_db()
    return job


def _commit_walk(
    job: ImportJob, viewer: Viewer, progress: Progress | None, now: datetime | None
) -> None:
    """``commit_import``'s walk over the batches, under the job's lease."""
    job.refresh_from_db()  # a commit that held the lease until now may have finished it
    if job.status == ImportJob.Status.DONE:
        return
    ImportJob.objects.filter(pk=job.pk).update(
        status=ImportJob.Status.RUNNING, started_at=job.started_at or timezone.now(), error={}
    )
    importer = Importer(job, viewer.user, now=now)
    importer.created_lines = dict(
        job.rows.filter(is_done=True, action=ImportRow.Action.CREATE).values_list(
            "customer_id", "line"
        )
    )
    done = job.rows.filter(is_done=True).count()
    size = int(job.options.get("batch") or batch_size())
    batches: Iterator[_FileBatch | _Stored]
    if job.options.get("file"):  # applied at once, its lines kept (``KeptLines``)
        batches, rows_of = _file_batches(job, size), _file_cells
    else:
        batches, rows_of = _stored_batches(job, size), _stored_cells
    with (
        full_collections_held(),  # see the module
        prepared_batches(importer, batches, rows_of) as pairs,
    ):
        for index, (batch, prepared) in enumerate(pairs):
            try:
                if isinstance(batch, _FileBatch):
                    done += _apply_file_batch(job, importer, batch, index, progress, done, prepared)
                else:
                    lines = cast(_Stored, batch).lines
                    done += _commit_batch(job, importer, lines, index, progress, done, prepared)
            except HighSeasError as conflict:
                if conflict.code is ErrorCode.STATE_CONFLICT:
                    ImportJob.objects.filter(pk=job.pk).exclude(
                        status=ImportJob.Status.DONE
                    ).update(status=ImportJob.Status.FAILED, error=conflict.as_dict())
                raise
    _finish(job, importer)


@dataclass
class _Stored:
    """A batch of the job's rows in line order: every line (done or not: the preview cut the
    file by line), and the stored cells, still encrypted, of those not done when read."""

    lines: list[int]
    cells: list[tuple[int, Any]]


def _stored_batches(job: ImportJob, size: int) -> Iterator[_Stored]:
    """The job's rows in the preview's batches, read outside the batches' transactions,
    without decrypting: the rows to do are read again, locked, in each batch's own."""
    stored = ExpressionWrapper(F("values"), output_field=JSONField())  # the token as stored
    rows = job.rows.annotate(stored=stored).order_by("line")
    last_line = 0
    while found := list(
        rows.filter(line__gt=last_line).values_list("line", "is_done", "stored")[:size]
    ):
        yield _Stored(
            [line for line, _done, _cells in found],
            [(line, cells) for line, done, cells in found if not done],
        )
        last_line = found[-1][0]


def _stored_cells(batch: Any) -> list[tuple[int, dict[str, str]]]:
    """A batch's cells decrypted (``prepared_batches``, before the batch's transaction)."""
    return [(line, decrypt_json(cells)) for line, cells in cast(_Stored, batch).cells]


@dataclass
class _FileBatch:
    """A batch of the kept lines (``KeptLines``) in line order: its first and last line, and
    the cells of those lines that have no row yet when read."""

    first: int
    last: int
    cells: list[tuple[int, dict[str, str]]]


def _file_batches(job: ImportJob, size: int) -> Iterator[_FileBatch]:
    """The kept lines in batches of ``size`` lines, as the file was first cut (the routing
    seeds go by the batch's place in the file), without the lines already applied: a batch is
    applied whole or not at all, so after a kill they are the first batches."""
    applied = set(job.rows.values_list("line", flat=True))
    for batch in _batches(_kept_lines(job), size):
        yield _FileBatch(
            batch[0][0],
            batch[-1][0],
            [(line, cells) for line, cells in batch if line not in applied],
        )


def _kept_lines(job: ImportJob) -> Iterator[tuple[int, dict[str, str]]]:
    """The job's kept lines in order, one run read at a time (none once the job is done)."""
    after = -1
    runs = KeptLines.objects.filter(job=job).order_by("first_line")
    while run := runs.filter(first_line__gt=after).values_list("first_line", "cells").first():
        after, cells = run
        yield from ((line, row) for line, row in cells)


def _file_cells(batch: Any) -> list[tuple[int, dict[str, str]]]:
    return cast(_FileBatch, batch).cells


@transaction.atomic
def _apply_file_batch(
    job: ImportJob,
    importer: Importer,
    batch: _FileBatch,
    index: int,
    progress: Progress | None,
    done: int,
    prepared: list[Prepared],
) -> int:
    """One batch of an import applied at once from its kept lines: its lines without a row,
    applied from their prepared forms, and their rows written with what happened to each
    (its plan) and the customer it made, done, in this transaction. The job's lease keeps a
    second commit out; the lines' rows are looked for again here all the same, and the
    unique (job, line) would refuse a row written twice."""
    if not batch.cells:
        return 0
    applied = set(
        job.rows.filter(line__gte=batch.first, line__lte=batch.last).values_list("line", flat=True)
    )
    todo = [row for row in prepared if row.line not in applied]
    if not todo:
        return 0
    plans = importer.apply_prepared(todo, index)
    cells = dict(batch.cells)
    if progress:
        for count in range(1, len(plans) + 1):
            progress(done + count, job.total)
    _insert_planned(job, [(cells[plan.line], plan.as_dict()) for plan in plans], done=True)
    ImportJob.objects.filter(pk=job.pk).update(done_rows=done + len(plans))
    return len(plans)


@transaction.atomic
def _commit_batch(
    job: ImportJob,
    importer: Importer,
    lines: list[int],
    index: int,
    progress: Progress | None,
    done: int,
    prepared: list[Prepared] | None = None,
) -> int:
    """One batch: its rows still to do, read again under their locks, applied from their
    prepared forms (``prepared``, read before the transaction; a row it lacks is prepared
    here from its cells)."""
    rows = _locked_rows(job, lines)
    if rows:
        ready = {p.line: p for p in prepared or ()}
        if missing := [row.line for row in rows if row.line not in ready]:
            cells = dict(job.rows.filter(line__in=missing).values_list("line", "values"))
            ready.update((p.line, p) for p in importer.prepare((n, cells[n]) for n in missing))
        plans = importer.apply_prepared([ready[row.line] for row in rows], index)
        at_once = job.at_once
        for count, (row, plan) in enumerate(zip(rows, plans, strict=True), start=1):
            if at_once:
                row.plan = plan  # no preview to hold it to: what happened is its plan
            else:
                _require_as_planned(row, plan)
            row.customer_id = plan.customer_id
            if progress:
                progress(done + count, job.total)
        _mark_done(rows, with_plans=at_once)
        ImportJob.objects.filter(pk=job.pk).update(done_rows=done + len(rows))
    return len(rows)


PLANNED_FIELDS = (
    *("line", "action", "code", "detail", "duplicate_of_id", "duplicate_line", "holder"),
    *("owner_id", "routed", "customer_id"),
)


def _locked_rows(job: ImportJob, lines: list[int]) -> list[_Planned]:
    """The batch's rows still to do, in line order, locked, as their plans and ids (plain
    values, not model instances, and no cells). The batch's lines are a run of the job's
    lines (``_stored_batches``), read by their range rather than a list of thousands of
    lines; a line outside ``lines`` is left out all the same."""
    if not lines:
        return []
    wanted = set(lines)
    found = (
        ImportRow.objects.select_for_update()
        .filter(job=job, line__gte=min(lines), line__lte=max(lines), is_done=False)
        .order_by("line")
        .values_list("pk", *PLANNED_FIELDS)
    )
    return [_Planned(pk, RowPlan(*planned)) for pk, *planned in found if planned[0] in wanted]


@dataclass
class _Planned:
    """A row to do: its id and its plan as the preview stored it; ``customer_id`` is the
    customer the commit gave it."""

    pk: int
    plan: RowPlan
    customer_id: int | None = None

    @property
    def line(self) -> int:
        return self.plan.line


MARKED_FIELDS = ("is_done", "customer")
# with the plan: what an import applied at once stores for each row as it applies it
PLAN_FIELDS = (
    *("action", "code", "detail", "duplicate_of", "duplicate_line", "holder", "owner"),
    "routed",
)


def _mark_done(rows: list[_Planned], *, with_plans: bool = False) -> None:
    """The rows done with their customers (and ``with_plans``, their plans): on SQLite one
    statement executed per row (a ``bulk_update`` builds a ``CASE`` over the batch that costs
    more than the rows' work); elsewhere one set-based ``UPDATE`` (``pools.set_update``),
    since a driver's ``executemany`` there still sends a statement per row."""
    fields = [*MARKED_FIELDS, *(PLAN_FIELDS if with_plans else ())]
    values = [
        (row.pk, True, row.customer_id, *(_plan_values(row.plan) if with_plans else ()))
        for row in rows
    ]
    if connection.vendor != "sqlite":
        update_rows(ImportRow, fields, values)
        return
    table, quoted = columns(ImportRow, *fields)
    assignments = ", ".join(f"{column} = %s" for column in quoted)
    with connection.cursor() as cursor:
        cursor.executemany(
            f"UPDATE {table} SET {assignments} WHERE id = %s",
            [(*row[1:], row[0]) for row in values],
        )


def _plan_values(plan: RowPlan) -> tuple[Any, ...]:
    """A plan as ``PLAN_FIELDS`` store it (as the preview's rows do: a duplicate of an
    earlier line names the line, its customer is only known once that line is written)."""
    duplicate_of = None if plan.duplicate_line else plan.duplicate_of
    return (
        *(plan.action, plan.code, plan.detail, duplicate_of, plan.duplicate_line),
        *(plan.holder, plan.owner_id, plan.routed),
    )


def _require_as_planned(row: _Planned, plan: RowPlan) -> None:
    if plan.signature() != row.plan.signature():
        raise HighSeasError(
            ErrorCode.STATE_CONFLICT,
            _("The data changed since the preview (line %(line)s); preview the file again.")
            % {"line": row.line},
            line=row.line,
            planned=row.plan.action,
            now=plan.action,
        )


@transaction.atomic
def _finish(job: ImportJob, importer: Importer) -> None:
    """Step 3: done, audited once (a second commit finds nothing left to finish)."""
    counts = {}
    if job.at_once:  # the counts of what happened, as a preview counts its plan
        job.planned = _counted(job)
        counts = {"planned": job.planned}
    finished = ImportJob.objects.filter(pk=job.pk).exclude(status=ImportJob.Status.DONE)
    if not finished.update(status=ImportJob.Status.DONE, finished_at=timezone.now(), **counts):
        return
    KeptLines.objects.filter(job=job).delete()  # its rows hold their lines' cells
    record_audit(
        importer.actor,
        AuditLog.Action.IMPORT,
        target_type="import",
        target_id=job.pk,
        file_name=job.file_name,
        sha256=job.sha256,
        pool=job.pool_id,
        rows=job.total,
        planned=job.planned,
        on_duplicate=job.on_duplicate,
        override_cap=bool(job.options.get("override_cap")),
    )
