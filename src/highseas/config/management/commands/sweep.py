from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.core.serializers.json import DjangoJSONEncoder
from django.utils import timezone

from highseas.engine.errors import HighSeasError
from highseas.pools.moments import require_allowed_moment
from highseas.pools.sweep import Scope, sweep


def parse_moment(value: str) -> datetime:
    """An ISO date or datetime; without a zone it is read in the organization's zone."""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise CommandError(f"--now takes an ISO date or datetime, not {value!r}") from exc
    return moment if timezone.is_aware(moment) else timezone.make_aware(moment)


class Command(BaseCommand):
    help = "Recycle customers that are due (or preview it with --dry-run)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--now",
            type=parse_moment,
            default=None,
            help="judge as of this moment (ISO); a real run needs HIGHSEAS_ALLOW_TIME_TRAVEL=1",
        )
        parser.add_argument("--dry-run", action="store_true", help="decide, write nothing")
        parser.add_argument("--pool", type=int, default=None)
        parser.add_argument("--owner", type=int, default=None)
        parser.add_argument("--batch-size", type=int, default=500)
        parser.add_argument("--json", action="store_true", help="print the whole report")

    def handle(
        self,
        *args: Any,
        now: datetime | None,
        dry_run: bool,
        pool: int | None,
        owner: int | None,
        batch_size: int,
        json: bool,
        **options: Any,
    ) -> None:
        try:
            require_allowed_moment(now, dry_run=dry_run, job="sweep")
        except HighSeasError as refusal:
            raise CommandError(f"{refusal.detail} (HIGHSEAS_ALLOW_TIME_TRAVEL=1)") from refusal
        report = sweep(
            now, dry_run=dry_run, batch_size=batch_size, scope=Scope(pool_id=pool, owner_id=owner)
        )
        if json:
            self.stdout.write(_dumps(report.as_dict()))
            return
        verb = "would recycle" if dry_run else "recycled"
        self.stdout.write(
            f"{verb} {len(report.recycled)}, warned {len(report.warned)}, "
            f"unfroze {len(report.unfrozen)} in {report.elapsed_ms:.0f} ms "
            f"({report.batches} batches)"
        )
        for item in report.recycled[:50]:
            self.stdout.write(
                f"  {item.customer_name} ← {item.from_owner_name} → "
                f"{item.to_pool_name}: {item.reason}"
            )


def _dumps(data: dict[str, Any]) -> str:
    return json.dumps(data, cls=DjangoJSONEncoder, ensure_ascii=False)
