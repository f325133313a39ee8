from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import translation
from tqdm import tqdm

from highseas.accounts.visibility import Viewer
from highseas.config.management.commands.assign import _actor
from highseas.customers.export_files import csv_chunks, write_xlsx
from highseas.customers.exports import (
    TEXT_FILTERS,
    ExportFilters,
    ExportFormat,
    ExportKind,
    start_export,
)
from highseas.engine.errors import HighSeasError


class Bar:
    """A tqdm bar on stderr over the rows the export counted at its start."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.bar: tqdm[Any] | None = None

    def __call__(self, done: int, total: int) -> None:
        if self.bar is None:
            self.bar = tqdm(total=total, desc=self.label, unit=" rows", file=sys.stderr)
        self.bar.update(done - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


class Command(BaseCommand):
    help = (
        "Export customers or their follow-ups to CSV or XLSX, as USERNAME sees them (masked "
        "as they see them, audit-logged); filters as the customer list's. A progress bar on "
        "stderr."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--kind", choices=[k.value for k in ExportKind], default="customers")
        parser.add_argument("--format", choices=[f.value for f in ExportFormat], default=None)
        parser.add_argument("--as", dest="username", help="the user to export as (an admin)")
        parser.add_argument("--out", help="the file to write (default: a name in this folder)")
        parser.add_argument("--language", choices=["zh-hans", "en"], default="zh-hans")
        parser.add_argument("--status", help="one status, or several comma-separated")
        parser.add_argument("--pool", help="pool id")
        parser.add_argument("--owner", help="owner's user id")
        parser.add_argument("--due", help="recycle due within this many days")
        for name in TEXT_FILTERS:
            parser.add_argument(f"--{name}", default="")

    def handle(self, *args: Any, **options: Any) -> None:
        out = Path(options["out"]) if options["out"] else None
        file_format = options["format"] or (
            "xlsx" if out is not None and out.suffix.lower() == ".xlsx" else "csv"
        )
        with translation.override(options["language"]):
            try:
                filters = ExportFilters.parse(options)
                export = start_export(
                    Viewer(_actor(options["username"])),
                    options["kind"],
                    filters=filters,
                    file_format=file_format,
                )
            except HighSeasError as refusal:
                raise CommandError(f"{refusal.detail} {refusal.facts}") from refusal
            target = out or Path(export.file_name)
            bar = Bar(f"export {export.kind.value}")
            try:
                with target.open("wb") as handle:
                    if export.file_format == ExportFormat.XLSX:
                        write_xlsx(export, handle, progress=bar)
                    else:
                        for chunk in csv_chunks(export, progress=bar):
                            handle.write(chunk)
            finally:
                bar.close()
        self.stdout.write(f"exported {export.written} {export.kind.value} rows to {target}")
