from __future__ import annotations

import json
import sys
from collections import Counter
from datetime import datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db.models import Q
from tqdm import tqdm

from highseas.accounts.models import Role, User
from highseas.config.management.commands.sweep import parse_moment
from highseas.engine.errors import HighSeasError
from highseas.pools.models import Pool
from highseas.pools.moments import require_allowed_moment
from highseas.routing.runs import DEFAULT_BATCH, RunResult
from highseas.routing.services import run_assignment

TOP = 20


class Progress:
    """A tqdm bar on stderr, shown only when the backlog takes more than one batch."""

    def __init__(self, batch_size: int) -> None:
        self.batch_size = batch_size
        self.bar: tqdm[Any] | None = None

    def __call__(self, done: int, total: int) -> None:
        if self.bar is None and total > self.batch_size:
            self.bar = tqdm(total=total, desc="assign", unit=" customers", file=sys.stderr)
        if self.bar is not None:
            self.bar.update(done - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _actor(username: str | None) -> User:
    if username:
        user = User.objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"no user {username!r}")
        return user
    admin = (
        User.objects.filter(is_active=True)
        .filter(Q(role=Role.ADMIN) | Q(is_superuser=True))
        .order_by("pk")
        .first()
    )
    if admin is None:
        raise CommandError("no active administrator; run `highseas init` or pass --as USERNAME")
    return admin


def summary(result: RunResult) -> list[str]:
    run = result.run
    verb = "would assign" if run.dry_run else "assigned"
    lines = [
        f"{verb} {run.assigned} of {run.considered} customers in {run.duration_ms:.0f} ms "
        f"({run.batches} batches, run #{run.pk}, seed {run.seed})"
    ]
    by_owner = Counter(d.owner_id for d in result.assigned if d.owner_id is not None)
    names = dict(User.objects.filter(pk__in=list(by_owner)).values_list("pk", "display_name"))
    for owner_id, count in by_owner.most_common(TOP):
        lines.append(f"  {names.get(owner_id) or owner_id}: {count}")
    if run.unassigned:
        lines.append(f"left in the pool: {run.unassigned}")
        for reason, count in sorted(run.unassigned_reasons.items(), key=lambda item: -item[1]):
            lines.append(f"  {reason}: {count}")
    return lines


class Command(BaseCommand):
    help = (
        "Run the assignment rules over the pooled backlog (preview it with --dry-run); "
        "a progress bar on stderr for long runs, a summary on stdout."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dry-run", action="store_true", help="decide, write only the log")
        parser.add_argument("--pool", type=int, default=None, help="only this pool's backlog")
        parser.add_argument("--seed", type=int, default=None, help="seed of the tie-breaks")
        parser.add_argument(
            "--now",
            type=parse_moment,
            default=None,
            help="judge as of this moment (ISO); a real run needs HIGHSEAS_ALLOW_TIME_TRAVEL=1",
        )
        parser.add_argument("--as", dest="username", default=None, help="the triggering user")
        parser.add_argument("--batch-size", type=int, default=DEFAULT_BATCH)
        parser.add_argument("--json", action="store_true", help="print the run as JSON")

    def handle(
        self,
        *args: Any,
        dry_run: bool,
        pool: int | None,
        seed: int | None,
        now: datetime | None,
        username: str | None,
        batch_size: int,
        **options: Any,
    ) -> None:
        try:
            require_allowed_moment(now, dry_run=dry_run, job="run")
        except HighSeasError as refusal:
            raise CommandError(f"{refusal.detail} (HIGHSEAS_ALLOW_TIME_TRAVEL=1)") from refusal
        scope = Pool.objects.filter(pk=pool).first() if pool is not None else None
        if pool is not None and scope is None:
            raise CommandError(f"no pool {pool}")
        progress = Progress(batch_size)
        try:
            result = run_assignment(
                _actor(username),
                pool=scope,
                dry_run=dry_run,
                now=now,
                seed=seed,
                batch_size=batch_size,
                progress=progress,
            )
        except HighSeasError as refusal:
            raise CommandError(f"{refusal.code.value}: {refusal.detail}") from refusal
        finally:
            progress.close()
        if options["json"]:
            self.stdout.write(json.dumps(_as_json(result), ensure_ascii=False))
            return
        self.stdout.write("\n".join(summary(result)))


def _as_json(result: RunResult) -> dict[str, Any]:
    run = result.run
    return {
        "run": run.pk,
        "dry_run": run.dry_run,
        "seed": run.seed,
        "considered": run.considered,
        "assigned": [
            {"customer": d.customer_id, "owner": d.owner_id, "rule": d.rule_id}
            for d in result.assigned
        ],
        "unassigned": [
            {"customer": d.customer_id, "reason": d.reason, "rule": d.rule_id}
            for d in result.unassigned
        ],
        "unassigned_reasons": run.unassigned_reasons,
        "duration_ms": run.duration_ms,
    }
