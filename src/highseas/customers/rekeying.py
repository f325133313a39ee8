"""Bringing stored personal data under the current data key, in bounded batches.

One pass over the customers, their contacts and the merge records: each value not encrypted
under the current key (plaintext from before encryption, or a token under an older key) is
encrypted again, and each blind duplicate key is recomputed from the decrypted value under the
current key; rows already current are left alone, so a pass stopped anywhere resumes by being
run again. Each batch is its own transaction.

No model imports: migration 0010 runs it with the columns it knows (plain SQL, keyset by id).
A merged-away customer keeps no keys (``NULL`` stays ``NULL``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.backends.base.base import BaseDatabaseWrapper

from highseas.customers import crypto
from highseas.engine.normalize import normalize_credit_code, normalize_email, normalize_phone

BATCH = 2000
CUSTOMERS = "customers_customer"
CONTACTS = "customers_contact"
MERGES = "customers_customermerge"
KEYS = (
    ("phone_key", "phone", "phone", normalize_phone),
    ("email_key", "email", "email", normalize_email),
    ("credit_key", "credit_code", "credit_code", normalize_credit_code),
)


@dataclass(frozen=True)
class Table:
    name: str
    text: tuple[str, ...]  # encrypted text columns
    json: tuple[str, ...]  # encrypted JSON columns
    keyed: bool = False  # the customers' blind keys


TABLES = (
    Table(CUSTOMERS, ("phone", "email"), (), keyed=True),
    Table(CONTACTS, ("email", "wechat"), ("phones",)),
    Table(MERGES, (), ("survivor_before", "survivor_after")),
)
# Import rows keep each line's cells (phones and e-mails among them) for the preview and the
# resume, and an import applied at once keeps its file's lines until it is done; a rotation
# covers them too. Not in TABLES: customers' migration 0010 runs before the intake app has a
# table.
EVERY_TABLE = (
    *TABLES,
    Table("intake_importrow", (), ("values",)),
    Table("intake_keptlines", (), ("cells",)),
)


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def _stale(value: Any, ring: crypto.Keyring) -> bool:
    """Whether a stored text (or JSON) value is not a token under the current key."""
    if value in (None, "", [], {}):
        return False
    return crypto.key_id_of(value) != ring.current if isinstance(value, str) else True


class Rewriter:
    """Re-encrypts one table's batch."""

    def __init__(self, connection: BaseDatabaseWrapper, table: Table, ring: crypto.Keyring):
        self.connection, self.table, self.ring = connection, table, ring
        self.columns = [*table.text, *table.json]
        if table.keyed:
            self.columns += ["credit_code", *(key for key, *_ in KEYS)]
        self.written: list[str] = [*table.text, *table.json]
        if table.keyed:
            self.written += [key for key, *_ in KEYS]

    def quoted(self, column: str) -> str:
        return self.connection.ops.quote_name(column)  # ``values`` is a keyword

    def select(self, after: int, limit: int) -> list[tuple[Any, ...]]:
        with self.connection.cursor() as cursor:
            cursor.execute(
                f"SELECT id, {', '.join(map(self.quoted, self.columns))} FROM {self.table.name} "
                "WHERE id > %s ORDER BY id LIMIT %s",
                [after, limit],
            )
            return list(cursor.fetchall())

    def rewrite(self, row: tuple[Any, ...]) -> list[Any] | None:
        """The new values of ``self.written`` for this row, or ``None`` when it is current."""
        values = dict(zip(self.columns, row[1:], strict=True))
        plain: dict[str, Any] = {}
        new: dict[str, Any] = {}
        stale = False
        for column in self.table.text:
            stored = values[column] or ""
            plain[column] = crypto.decrypt(stored)
            stale |= _stale(stored, self.ring)
            new[column] = crypto.encrypt(plain[column], self.ring) if plain[column] else ""
        for column in self.table.json:
            stored = _json(values[column])
            stale |= _stale(stored, self.ring)
            decoded = crypto.decrypt_json(stored)
            new[column] = self.connection.ops.adapt_json_value(
                crypto.encrypt_json(decoded, self.ring)
                if decoded not in (None, [], {})
                else decoded,
                None,
            )
        if self.table.keyed:
            sources = {**plain, "credit_code": values["credit_code"] or ""}
            for key, source, kind, normalize in KEYS:
                normalized = normalize(sources[source]) if values[key] is not None else None
                new[key] = crypto.blind(kind, normalized, self.ring) if normalized else None
                stale |= new[key] != values[key]
        if not stale:
            return None
        return [new[column] for column in self.written]

    def write(self, rows: Sequence[tuple[int, list[Any]]]) -> None:
        assignments = ", ".join(f"{self.quoted(column)} = %s" for column in self.written)
        with self.connection.cursor() as cursor:
            cursor.executemany(
                f"UPDATE {self.table.name} SET {assignments} WHERE id = %s",
                [(*values, row_id) for row_id, values in rows],
            )


@dataclass
class Progress:
    table: str
    read: int
    rewritten: int


def reencrypt(
    connection: BaseDatabaseWrapper,
    *,
    batch_size: int = BATCH,
    ring: crypto.Keyring | None = None,
    atomic: Callable[[], Any] | None = None,
    tables: Sequence[Table] = TABLES,
) -> Iterator[Progress]:
    """One pass (see the module); yields each batch's progress after its commit."""
    ring = ring or crypto.keyring(fresh=True)
    for table in tables:
        rewriter = Rewriter(connection, table, ring)
        after = 0
        while True:
            with atomic() if atomic else transaction.atomic(using=connection.alias):
                rows = rewriter.select(after, batch_size)
                if not rows:
                    break
                changed = [
                    (row[0], values)
                    for row in rows
                    if (values := rewriter.rewrite(row)) is not None
                ]
                if changed:
                    rewriter.write(changed)
            after = rows[-1][0]
            yield Progress(table.name, len(rows), len(changed))


def stale_rows(
    connection: BaseDatabaseWrapper,
    ring: crypto.Keyring | None = None,
    tables: Sequence[Table] = TABLES,
) -> int:
    """How many rows still hold a value not under the current key (their blind keys are
    recomputed with them). Reads every row: for the end of a rotation and for tests."""
    ring = ring or crypto.keyring(fresh=True)
    count = 0
    for table in tables:
        rewriter = Rewriter(connection, table, ring)
        after = 0
        while rows := rewriter.select(after, BATCH):
            count += sum(1 for row in rows if rewriter.rewrite(row) is not None)
            after = rows[-1][0]
    return count
