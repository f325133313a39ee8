"""``highseas bench import`` (SPEC §12): a 100,000-row customer file through the import, with
the duplicate check and the assignment rules on, beside a raw insert of the same rows.

1. A file is generated (seeded): companies named from the bench syllables, each with a mobile
   phone, an e-mail, a province and city, employees, a level; 5 % of the rows repeat an earlier
   company in another spelling (a region bracket added, the phone with ``+86`` / spaces /
   full-width digits, the name's legal form changed), and 1 % are bad (no name, a malformed
   e-mail, employees ``很多``).
2. A bench team of reps (``--reps``: 100 from the command line), a pool
   (``bench-import-pool``, its marker) and one active round-robin rule over the team: every
   pooled newcomer is routed.
3. ``preview_import`` then ``commit_import`` as an admin (``block`` on duplicates), each timed;
   the figures are rows per second over all rows of the file. The commit also gives its rows
   per batch and the statements it sent per 500 rows. Then a second file of the same kind
   (another seed, other companies) through ``import_at_once``, as ``highseas import FILE``
   without ``--dry-run`` applies it: one pass, no preview (``at_once``). With
   ``--claims-per-second N``, reps claim N pooled customers a second on a thread of this
   process meanwhile, as on the embedded server, each claim timed (``claims_during_at_once``:
   p50, p99, the longest and how many waited over 200 ms): what an import does to a rush.
4. The raw baseline: the same file parsed with ``csv`` and its rows inserted with
   multi-row ``INSERT`` statements (``rows.insert_values``: customers and their ``created``
   ledger rows, 500 rows per transaction), no check, no normalization, no routing; then
   deleted again. On SQLite this is several times faster than ``executemany``, which writes
   the customers' search index a row at a time.
5. Peak memory: the process's maximum resident set (``resource.getrusage``) before the file
   is built, with it, and after each phase. Each figure also gives the CPU seconds of this
   process, which a machine shared with other work makes the steadier measure.
6. On PostgreSQL, the write-ahead log each phase wrote, in bytes per row of the file
   (``pg_current_wal_insert_lsn`` before and after; the preview's is written too, though
   rolled back): what the server had to write for the rows, beside the raw insert's.

The bench refuses a database holding customers outside its pool unless ``--force``; the names
carry a run tag, so runs repeat on the same database.
"""

from __future__ import annotations

import csv
import io
import math
import random
import resource
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, replace
from datetime import UTC
from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db import connection, transaction
from django.utils import timezone

from highseas.accounts.models import Role, Team, User
from highseas.accounts.visibility import Viewer
from highseas.bench import BenchError, has_customers, report
from highseas.bench.dataset import (
    CITIES,
    PROVINCES,
    SYLLABLES,
    TRADES,
    _fast_user,
    insert_customers,
)
from highseas.bench.timing import CLAIMER_TARGETS, Claimer, wal_bytes_since, wal_position
from highseas.customers.models import Customer
from highseas.intake.imports import (
    commit_import,
    import_at_once,
    import_summary,
    preview_import,
)
from highseas.intake.models import ImportJob
from highseas.pools import services as pools
from highseas.pools.models import OwnershipEvent, Pool
from highseas.pools.rows import insert_values
from highseas.routing.models import AssignmentRule

POOL_NAME = "bench-import-pool"
TEAM_NAME = "bench-import-team"
ADMIN_USERNAME = "bench-import-admin"
REP_PREFIX = "bench-import-rep-"
TARGET_ROWS_PER_SECOND = 2_000
HEADER = ["客户名称", "电话", "邮箱", "省份", "城市", "员工人数", "等级", "来源"]
FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")
RAW_BATCH = 500


@dataclass(frozen=True)
class ImportBenchOptions:
    rows: int = 100_000
    reps: int = 20
    seed: int = 1
    duplicate_share: float = 0.05
    bad_share: float = 0.01
    force: bool = False
    # > 0: reps claim at this rate, on a thread of this process, while the file is applied
    # at once (as on the embedded server: a claim beside an import), each claim timed
    claims_per_second: float = 0.0


def _brand(number: int) -> str:
    base = len(SYLLABLES)
    return "".join(SYLLABLES[number // base**place % base] for place in range(4))


def _respelled(row: list[str], rng: random.Random) -> list[str]:
    """The same company written another way (step 1)."""
    name, phone = row[0], row[1]
    spelling = rng.randrange(4)
    if spelling == 0:
        name = name.replace("有限公司", "（北京）有限公司")
    elif spelling == 1:
        phone = f"+86 {phone[:3]} {phone[3:7]} {phone[7:]}"
    elif spelling == 2:
        phone = phone.translate(FULL_WIDTH)
    else:
        name = name.replace("有限公司", "股份有限公司")
    return [name, phone, "", *row[3:]]


def _bad(row: list[str], rng: random.Random) -> list[str]:
    kind = rng.randrange(3)
    if kind == 0:
        return ["", *row[1:]]
    if kind == 1:
        return [row[0], row[1], "not-an-email", *row[3:]]
    return [*row[:5], "很多", *row[6:]]


def build_file(options: ImportBenchOptions, tag: str) -> tuple[bytes, dict[str, int]]:
    """Step 1: the CSV's bytes (UTF-8) and how many rows of each kind it holds."""
    rng = random.Random(options.seed)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(HEADER)
    originals: list[list[str]] = []
    counts = {"good": 0, "duplicate": 0, "bad": 0}
    for number in range(options.rows):
        draw = rng.random()
        if draw < options.duplicate_share and originals:
            row, kind = _respelled(rng.choice(originals), rng), "duplicate"
        else:
            city = rng.randrange(len(CITIES))
            row = [
                f"{tag}{_brand(number)}{TRADES[number % len(TRADES)]}有限公司",
                f"1{rng.choice('3456789')}{rng.randrange(10**9):09d}",
                f"buyer{number}@{tag}.example.cn",
                PROVINCES[city],
                CITIES[city],
                str(rng.randrange(5, 5000)),
                rng.choice("ABC"),
                rng.choice(["展会", "官网", "转介绍", "电销"]),
            ]
            kind = "good"
            if draw > 1 - options.bad_share:
                row, kind = _bad(row, rng), "bad"
            else:
                originals.append(row)
        counts[kind] += 1
        writer.writerow(row)
    return out.getvalue().encode("utf-8"), counts


def _require_bench_database(force: bool) -> None:
    """Refuse a database with customers outside the bench pool (unless ``force``), before
    touching its schema, then migrate it: a fresh data directory's database is empty."""
    if has_customers() and not force and Customer.objects.exclude(pool__name=POOL_NAME).exists():
        raise BenchError(
            "the database holds customers outside the bench pool; use an empty database "
            "or pass --force"
        )
    call_command("migrate", interactive=False, verbosity=0)


def set_up(options: ImportBenchOptions) -> tuple[User, Pool]:
    """Step 2: the admin who imports, the team, its reps, the pool and the rule."""
    admin = User.objects.filter(username=ADMIN_USERNAME).first()
    if admin is None:
        admin = _fast_user(ADMIN_USERNAME, "导入管理员", Role.ADMIN, None)
        admin.save()
    team, _created = Team.objects.get_or_create(name=TEAM_NAME)
    have = User.objects.filter(username__startswith=REP_PREFIX).count()
    for number in range(have, options.reps):
        _fast_user(f"{REP_PREFIX}{number}", f"导入销售{number}", Role.REP, team).save()
    pool = Pool.objects.filter(name=POOL_NAME).first()
    if pool is None:
        pool = pools.save_pool(
            Pool(name=POOL_NAME),
            claim_policy=None,
            recycle_policy=None,
            member_users=[],
            member_teams=[team],
            admins=[],
        )
    AssignmentRule.objects.get_or_create(
        name="bench-import-rule",
        pool=pool,
        defaults={"target": {"team": team.pk, "strategy": "round_robin"}, "conditions": {}},
    )
    return admin, pool


def _peak_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def _children_cpu() -> float:
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def _timed(step: Callable[[], Any]) -> tuple[Any, float, float, float]:
    """The step's result, its wall seconds, its CPU seconds (this process's and its import
    helper's: ``intake.preparing``, joined before the step returns) and the helper's share."""
    started, cpu, helper = time.perf_counter(), time.process_time(), _children_cpu()
    result = step()
    helper = _children_cpu() - helper
    return result, time.perf_counter() - started, time.process_time() - cpu + helper, helper


class _Statements:
    """Counts the statements a step sends (an ``execute_wrapper``): one per ``execute``, one
    per row of an ``executemany`` on PostgreSQL, whose driver sends a statement per row.
    A ``COPY … FROM STDIN`` (``pools.rows``, one per written table and batch there) goes
    past Django's cursor and is not counted."""

    def __init__(self) -> None:
        self.sent = 0

    def __call__(self, execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        self.sent += len(params) if many and connection.vendor == "postgresql" else 1
        return execute(sql, params, many, context)


def _wal_per_row(since: str | None, rows: int) -> float | None:
    """Bytes of write-ahead log written since ``since`` (``wal_position``), per row."""
    wrote = wal_bytes_since(since)
    return None if wrote is None or not rows else round(wrote / rows, 1)


def _raw_values(row: list[str], actor_id: int, at: Any, pool_id: int) -> tuple[Any, ...]:
    employees = int(row[5]) if row[5].isdigit() else None
    return (*row[:5], employees, row[6], actor_id, at, at, pool_id)


def raw_insert(content: bytes, pool: Pool, actor: User) -> tuple[int, float, float | None]:
    """Step 4: the rows inserted without any check, then deleted; (rows, seconds, bytes of
    write-ahead log per row inserted, on PostgreSQL)."""
    table, events = Customer._meta.db_table, OwnershipEvent._meta.db_table
    insert = (
        f"INSERT INTO {table} (name, kind, credit_code, phone, email, industry, province, city, "
        "address, employees, revenue_band, source, campaign, level, stage, tags, custom_fields, "
        "created_by_id, created_at, updated_at, status, pool_id) VALUES ",
        "(%s, 'company', '', %s, %s, '', %s, %s, '', %s, '', 'import', '', %s, 'prospect', "
        "'[]', '{}', %s, %s, %s, 'pooled', %s)",
    )
    ledger = (
        f"INSERT INTO {events} (customer_id, kind, from_status, to_status, to_pool_id, "
        "actor_id, actor_label, reason, policy_ref, at) VALUES ",
        "(%s, 'created', '', 'pooled', %s, %s, 'bench:baseline', 'raw insert', '', %s)",
    )
    now = timezone.now()
    at = now if connection.vendor == "postgresql" else now.astimezone(UTC).replace(tzinfo=None)
    reader = csv.reader(io.StringIO(content.decode("utf-8-sig")))
    next(reader)
    rows = [r for r in reader if r[0]]
    first_id = (Customer.objects.order_by("-pk").values_list("pk", flat=True).first() or 0) + 1
    wal = wal_position()
    started = time.perf_counter()
    with connection.cursor() as cursor:
        for start in range(0, len(rows), RAW_BATCH):
            chunk = rows[start : start + RAW_BATCH]
            with transaction.atomic():
                insert_values(
                    cursor, *insert, [_raw_values(r, actor.pk, at, pool.pk) for r in chunk]
                )
                cursor.execute(
                    f"SELECT id FROM {table} WHERE id >= %s AND pool_id = %s "
                    "ORDER BY id DESC LIMIT %s",
                    [first_id, pool.pk, len(chunk)],
                )
                ids = [row[0] for row in cursor.fetchall()]
                insert_values(cursor, *ledger, [(i, pool.pk, actor.pk, at) for i in ids])
    seconds = time.perf_counter() - started
    wal_per_row = _wal_per_row(wal, len(rows))
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {events} WHERE actor_label = 'bench:baseline'")
        cursor.execute(
            f"DELETE FROM {table} WHERE id >= %s AND created_by_id = %s "
            "AND source = 'import' AND stage = 'prospect' AND phone_key IS NULL "
            "AND name_key IS NULL",
            [first_id, actor.pk],
        )
    return len(rows), seconds, wal_per_row


def run(options: ImportBenchOptions, progress: bool = True) -> list[dict[str, Any]]:
    _require_bench_database(options.force)
    rss_start = _peak_mb()
    admin, pool = set_up(options)
    tag = f"导{Customer.objects.filter(pool=pool).count() // max(options.rows, 1)}"
    content, counts = build_file(options, tag)
    rss_file = _peak_mb()
    viewer = Viewer(admin)
    wal = wal_position()
    job, preview_s, preview_cpu, preview_helper = _timed(
        lambda: preview_import(
            viewer, file_name="bench.csv", content=content, pool_id=pool.pk, history=False
        )
    )
    rss_preview = _peak_mb()
    preview_wal = _wal_per_row(wal, options.rows)
    wal = wal_position()
    statements = _Statements()
    with connection.execute_wrapper(statements):
        job, commit_s, commit_cpu, commit_helper = _timed(lambda: commit_import(viewer, job.pk))
    rss_commit = _peak_mb()
    commit_wal = _wal_per_row(wal, options.rows)
    # the same kind of file again (other rows), applied at once as the command line does
    second, second_counts = build_file(replace(options, seed=options.seed + 1), f"{tag}乙")
    claims = _claims_beside(options, pool, admin, expected_seconds=commit_s)
    wal = wal_position()
    with claims or nullcontext():
        direct, direct_s, direct_cpu, direct_helper = _timed(
            lambda: import_at_once(
                viewer, file_name="bench-2.csv", content=second, pool_id=pool.pk, history=False
            )
        )
    direct_wal = _wal_per_row(wal, options.rows)
    rss_direct = _peak_mb()
    raw_rows, raw_s, raw_wal = raw_insert(content, pool, admin)
    base = {
        "bench": "import",
        "db": connection.vendor,
        "rows": options.rows,
        "reps": options.reps,
        "file_bytes": len(content),
        "file": counts,
    }
    total_s = preview_s + commit_s
    lines = [
        {
            **base,
            "path": "preview",
            **_pass_figures(options.rows, preview_s, preview_cpu, preview_helper, preview_wal),
        },
        {
            **base,
            "path": "commit",
            **_pass_figures(options.rows, commit_s, commit_cpu, commit_helper, commit_wal),
            **_outcome(job),
            "batch_rows": job.options.get("batch"),
            "statements_per_500_rows": round(statements.sent * 500 / options.rows, 1),
        },
        {
            **base,
            "path": "preview_and_commit",
            "seconds": round(total_s, 2),
            "rows_per_second": round(options.rows / total_s),
            "target_rows_per_second": TARGET_ROWS_PER_SECOND,
            "commit_meets_target": options.rows / commit_s >= TARGET_ROWS_PER_SECOND,
            "both_meet_target": options.rows / total_s >= TARGET_ROWS_PER_SECOND,
        },
        {
            **base,
            "path": "at_once",
            "file": second_counts,
            **_pass_figures(options.rows, direct_s, direct_cpu, direct_helper, direct_wal),
            **_outcome(direct),
            "target_rows_per_second": TARGET_ROWS_PER_SECOND,
            "meets_target": options.rows / direct_s >= TARGET_ROWS_PER_SECOND,
        },
        *(
            [
                {
                    **base,
                    "path": "claims_during_at_once",
                    "claims_per_second_asked": options.claims_per_second,
                    **claims.figure(),
                }
            ]
            if claims
            else []
        ),
        {
            **base,
            "path": "raw_insert",
            "inserted": raw_rows,
            "seconds": round(raw_s, 2),
            "rows_per_second": round(raw_rows / raw_s),
            "wal_bytes_per_row": raw_wal,
        },
        {
            **base,
            "path": "memory",
            "max_rss_mb_at_start": rss_start,
            "max_rss_mb_with_file": rss_file,
            "max_rss_mb_after_preview": rss_preview,
            "max_rss_mb_after_commit": rss_commit,
            "max_rss_mb_after_at_once": rss_direct,
            # the largest finished child of this process: the helper when it is forked (its
            # resident pages are mostly the parent's, shared at the fork); a process that ran before
            # an ``exec`` into the bench (a shell's earlier command) is counted too
            "children_max_rss_mb": round(
                resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1
            ),
        },
    ]
    return lines


def _claims_beside(
    options: ImportBenchOptions, pool: Pool, admin: User, *, expected_seconds: float
) -> Claimer | None:
    """With ``claims_per_second``: the pooled customers the reps will claim (raw rows, as the
    claim bench's; twice what the import at once is expected to last at that rate, the
    commit's time, so that the claims outlast it), and the claimer, not started."""
    if options.claims_per_second <= 0:
        return None
    wanted = math.ceil(2 * expected_seconds * options.claims_per_second) + 10
    insert_customers(pool, admin, min(wanted, CLAIMER_TARGETS))
    reps = User.objects.filter(username__startswith=REP_PREFIX).order_by("pk")[: options.reps]
    return Claimer(pool, list(reps), options.claims_per_second)


def _pass_figures(
    rows: int, seconds: float, cpu: float, helper: float, wal: float | None
) -> dict[str, Any]:
    """A timed pass over a file of ``rows`` rows (``_timed``), with its log per row."""
    return {
        "seconds": round(seconds, 2),
        "rows_per_second": round(rows / seconds),
        "cpu_seconds": round(cpu, 2),
        "rows_per_cpu_second": round(rows / cpu),
        "helper_cpu_seconds": round(helper, 2),
        "wal_bytes_per_row": wal,
    }


def _outcome(job: ImportJob) -> dict[str, Any]:
    """What an applied import did, by its summary."""
    summary = import_summary(job, limit=0)
    return {
        "created": summary["created"],
        "duplicates": job.planned.get("duplicate", 0),
        "errors": job.planned.get("error", 0),
        "assigned": summary["assigned"],
    }


def summary_text(lines: list[dict[str, Any]]) -> str:
    by = {line["path"]: line for line in lines}
    commit, memory = by["commit"], by["memory"]
    return "\n".join(
        [
            f"import bench on {commit['db']}: {commit['rows']:,} rows ({commit['file']}), "
            f"routed round-robin to {commit['reps']} reps",
            f"  preview  {by['preview']['rows_per_second']:>8,} rows/s "
            f"({by['preview']['seconds']} s; {by['preview']['rows_per_cpu_second']:,} per CPU s)",
            f"  commit   {commit['rows_per_second']:>8,} rows/s ({commit['seconds']} s; "
            f"{commit['rows_per_cpu_second']:,} per CPU s): created {commit['created']:,}, "
            f"duplicates {commit['duplicates']:,}, errors {commit['errors']:,}, "
            f"assigned {commit['assigned']:,}; {commit['batch_rows']:,} rows a batch, "
            f"{commit['statements_per_500_rows']} statements per 500 rows",
            f"  both     {by['preview_and_commit']['rows_per_second']:>8,} rows/s",
            f"  at once  {by['at_once']['rows_per_second']:>8,} rows/s "
            f"({by['at_once']['seconds']} s; {by['at_once']['rows_per_cpu_second']:,} per CPU s; "
            f"another file of the same kind, without a preview): created "
            f"{by['at_once']['created']:,}, duplicates {by['at_once']['duplicates']:,}, "
            f"errors {by['at_once']['errors']:,}, assigned {by['at_once']['assigned']:,}",
            *(
                [
                    f"  claims during the import at once: {claimed['claims']:,} "
                    f"({claimed['claims_per_second_asked']:g}/s asked): "
                    f"p50 {claimed['claim_p50_ms']} ms, p99 {claimed['claim_p99_ms']} ms, "
                    f"max {claimed['claim_max_ms']} ms, {claimed['claims_over_200_ms']:,} over "
                    f"200 ms; {claimed['claim_outcomes']}"
                ]
                if (claimed := by.get("claims_during_at_once"))
                else []
            ),
            f"  raw      {by['raw_insert']['rows_per_second']:>8,} rows/s "
            f"({by['raw_insert']['inserted']:,} rows inserted, no check)",
            *(
                [
                    f"  WAL      {commit['wal_bytes_per_row']:,} bytes per row committed "
                    f"(preview {by['preview']['wal_bytes_per_row']:,}, raw insert "
                    f"{by['raw_insert']['wal_bytes_per_row']:,})"
                ]
                if commit["wal_bytes_per_row"] is not None
                else []
            ),
            f"  max RSS  {memory['max_rss_mb_with_file']} MB with the file, "
            f"{memory['max_rss_mb_after_commit']} MB after the commit",
            f"  target ≥ {TARGET_ROWS_PER_SECOND:,} rows/s: commit "
            f"{'met' if by['preview_and_commit']['commit_meets_target'] else 'missed'}, "
            f"preview + commit "
            f"{'met' if by['preview_and_commit']['both_meet_target'] else 'missed'}, "
            f"at once {'met' if by['at_once']['meets_target'] else 'missed'}",
        ]
    )


def run_from_command(command: BaseCommand, options: dict[str, Any]) -> None:
    bench_options = ImportBenchOptions(
        rows=options["import_rows"],
        reps=min(options["reps"], 200),
        seed=options["seed"],
        force=options["force"],
        claims_per_second=options.get("claims_per_second") or 0.0,
    )
    report(command, lambda: run(bench_options), summary_text)
