"""``highseas rotatekeys``: re-encrypt the personal data under a new data key.

1. A new key becomes current in the key file (``customers.crypto.begin_rotation``); the old
   ones stay readable, and lookups ask for the blind keys under all of them. A rotation that
   was stopped goes on with its key instead. With ``HIGHSEAS_DATA_KEY`` in the environment,
   the operator sets the new key there first and lists the old ones in
   ``HIGHSEAS_DATA_OLD_KEYS``.
2. After ``--grace`` seconds (running processes re-read the key file within two), every row
   not under the current key is re-encrypted and its blind duplicate keys recomputed, in
   committed batches (``customers.rekeying``): stopped anywhere, run the command again.
3. When no row is left under an old key, the old keys are retired and an audit row
   (``key_rotation``) records the rotation.
"""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection, transaction

from highseas.accounts.audit import record_audit
from highseas.accounts.models import AuditLog, User
from highseas.customers import crypto
from highseas.customers.rekeying import EVERY_TABLE, reencrypt, stale_rows

PASSES = 3  # rows written under an old key during a pass are caught by the next one


class Command(BaseCommand):
    help = (
        "Re-encrypt phones, e-mails and WeChat IDs under a new data key and recompute the "
        "blind duplicate keys, in resumable batches; then retire the old key."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--batch-size", type=int, default=2000)
        parser.add_argument(
            "--grace",
            type=float,
            default=crypto.RELOAD_SECONDS + 1,
            help="seconds to wait for running processes to take up the new key",
        )
        parser.add_argument("--actor", default=None, help="username recorded in the audit log")

    def handle(
        self, *args: Any, batch_size: int, grace: float, actor: str | None, **_: Any
    ) -> None:
        user = None
        if actor is not None:
            user = User.objects.filter(username=actor).first()
            if user is None:
                raise CommandError(f"no user {actor}")
        before = crypto.keyring(fresh=True)
        ring = crypto.begin_rotation()
        retiring = ring.old
        if ring.current != before.current:
            self.stdout.write(f"new data key {ring.current}; readable until done: {retiring}")
            time.sleep(max(grace, 0))
        else:
            self.stdout.write(f"data key {ring.current}; rows under {retiring or 'no'} old keys")
        rewritten = read = 0
        for _pass in range(PASSES):
            for progress in reencrypt(
                connection, batch_size=batch_size, ring=ring, tables=EVERY_TABLE
            ):
                read += progress.read
                rewritten += progress.rewritten
            if stale_rows(connection, ring, EVERY_TABLE) == 0:
                break
        else:
            raise CommandError("rows are still written under an old key; run it again")
        with transaction.atomic():
            retired = crypto.finish_rotation()
            record_audit(
                user,
                AuditLog.Action.KEY_ROTATION,
                target_type="data_key",
                target_id=ring.current,
                retired=retired,
                rows_read=read,
                rows_rewritten=rewritten,
            )
        self.stdout.write(
            f"{rewritten} rows re-encrypted under {ring.current}; retired keys: {retired or '-'}"
        )
        if ring.source == "environment" and ring.old:
            self.stdout.write("remove the old keys from HIGHSEAS_DATA_OLD_KEYS now")
