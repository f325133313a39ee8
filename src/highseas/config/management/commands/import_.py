"""``highseas import FILE``: import a CSV or XLSX file of customers, or preview it.

With ``--dry-run`` the preview plans every row (``intake.imports.preview_import``) and prints
what will happen; without it the file is applied at once (``intake.imports.import_at_once``:
one pass, each row's outcome stored as it is applied) with a progress bar. Run again with the
same file after a killed import, and the unfinished import resumes where it stopped.
"""

from __future__ import annotations

import argparse
import json
import sys
from contextlib import closing
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db.models import Q
from tqdm import tqdm

from highseas.accounts.visibility import Viewer
from highseas.config.management.commands.assign import _actor
from highseas.engine.errors import HighSeasError
from highseas.intake.imports import (
    commit_import,
    import_at_once,
    import_summary,
    preview_import,
    unfinished_import,
)
from highseas.intake.models import ImportJob
from highseas.pools.models import Pool

SHOWN = 20


class _Bar(tqdm):  # type: ignore[type-arg]
    """No monitor thread (it only tunes a stalled bar's refresh): the commit forks its
    helper only beside no other thread (``intake.preparing``)."""

    monitor_interval = 0


class Progress:
    """A tqdm bar on stderr over the job's rows."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.bar: tqdm[Any] | None = None

    def __call__(self, done: int, total: int) -> None:
        if self.bar is None:
            self.bar = _Bar(total=total or None, desc=self.label, unit=" rows", file=sys.stderr)
        self.bar.update(done - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _pool(value: str | None) -> int:
    if value is None:
        pool = Pool.objects.filter(is_default=True).first()
    else:
        found = Q(name=value) | (Q(pk=int(value)) if value.isdigit() else Q())
        pool = Pool.objects.filter(found).first()
    if pool is None:
        raise CommandError(f"no pool {value!r}" if value else "no default pool; pass --pool")
    return pool.pk


def _mapping(path: str | None) -> dict[str, Any] | None:
    if path is None:
        return None
    try:
        mapping = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CommandError(f"--mapping: {exc}") from exc
    if not isinstance(mapping, dict):
        raise CommandError("--mapping takes a JSON object of header → field")
    return mapping


def report_lines(summary: dict[str, Any]) -> list[str]:
    lines = [
        f"import #{summary['id']} {summary['file_name']}: {summary['status']}, "
        f"{summary['total']} rows — create {summary['created']} "
        f"(assigned {summary['assigned']}), skip {summary['skipped']}, "
        f"merge {summary['merged']}, duplicates {len(summary['duplicates'])}, "
        f"errors {len(summary['errors'])}"
    ]
    for dup in summary["duplicates"][:SHOWN]:
        of = f"line {dup['duplicate_line']}" if dup["duplicate_line"] else f"#{dup['customer']}"
        lines.append(f"  line {dup['line']}: {dup['action']} of {of} ({dup['holder']})")
    for error in summary["errors"][:SHOWN]:
        lines.append(f"  line {error['line']}: {error['code']} — {error['detail']}")
    return lines


class Command(BaseCommand):
    help = (
        "Import customers from a CSV (UTF-8 or GBK) or XLSX file in one pass, each row's "
        "outcome recorded by line; --dry-run previews every row and creates no customer."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file")
        parser.add_argument("--pool", default=None, help="pool id or name (default pool)")
        parser.add_argument("--mapping", default=None, help="JSON file: {header: field}")
        parser.add_argument("--dry-run", action="store_true", help="preview only")
        parser.add_argument("--on-duplicate", choices=ImportJob.OnDuplicate.values, default="block")
        parser.add_argument(
            "--history",
            action=argparse.BooleanOptionalAction,
            default=None,
            help="import deals and activities (default: when the file has such columns)",
        )
        parser.add_argument(
            "--override-cap", action="store_true", help="admins: owners beyond their cap"
        )
        parser.add_argument("--as", dest="username", default=None, help="act as this user")
        parser.add_argument("--json", action="store_true", help="print the summary as JSON")

    def handle(self, *args: Any, **options: Any) -> None:
        viewer = Viewer(_actor(options["username"]))
        path = Path(options["file"])
        try:
            content = path.read_bytes()
        except OSError as exc:
            raise CommandError(str(exc)) from exc
        try:
            job = self._run(viewer, path.name, content, options)
        except HighSeasError as refusal:
            raise CommandError(f"{refusal.code}: {refusal.detail}") from refusal
        summary = import_summary(job)
        if options["json"]:
            self.stdout.write(json.dumps(summary, ensure_ascii=False, default=str))
        else:
            self.stdout.write("\n".join(report_lines(summary)))

    def _run(self, viewer: Viewer, name: str, content: bytes, options: dict[str, Any]) -> ImportJob:
        pool_id = _pool(options["pool"])
        request = {
            "file_name": name,
            "content": content,
            "pool_id": pool_id,
            "mapping": _mapping(options["mapping"]),
            "on_duplicate": options["on_duplicate"],
            "history": options["history"],
            "override_cap": options["override_cap"],
        }
        if options["dry_run"]:
            with closing(Progress("preview")) as bar:
                return preview_import(viewer, **request, progress=bar)
        job = unfinished_import(viewer, content, pool_id)
        with closing(Progress("import")) as bar:
            if job is None:
                return import_at_once(viewer, **request, progress=bar)
            self.stderr.write(f"resuming import #{job.pk} ({job.done_rows}/{job.total} done)")
            return commit_import(viewer, job.pk, progress=bar)
