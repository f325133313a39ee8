"""The five tables demo customers go to, and writing a batch of rows into them."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from functools import partial

from django.db import connection, models, transaction

from highseas.customers import duplicates
from highseas.customers.fts import PINYIN_TABLE
from highseas.customers.models import Activity, Contact, Customer, Deal
from highseas.demo.rows import FIELDS, TABLES, RowBatch
from highseas.demo.writer import (
    TableWriter,
    next_ids,
    reset_sequences,
    secondary_indexes_suspended,
)
from highseas.engine.pinyin import pinyin_keys
from highseas.pools.models import OwnershipEvent

MODELS: dict[str, type[models.Model]] = {
    "customers": Customer,
    "contacts": Contact,
    "activities": Activity,
    "deals": Deal,
    "events": OwnershipEvent,
}


def _blind_keys() -> dict[str, Callable[[str], str | None]]:
    """The customers' phone, e-mail and credit-code keys come from the profiles normalized;
    they are stored as blind indexes under the current data key."""
    return {
        column: partial(duplicates.column_value, key)
        for key, column in duplicates.KEY_COLUMNS.items()
        if key in duplicates.BLIND_KEYS
    }


TRANSFORMS = {"customers": _blind_keys()}
NAME_KEY = FIELDS["customers"].index("name_key")


def write_pinyin(customer_rows: list[tuple[object, ...]]) -> None:
    """The pinyin of the batch's core names, written with the batch (what
    ``customers.fts.fill_pinyin`` would compute for them after the load, one serial pass
    over every core name at the end; here it is done while the generator process prepares
    the next batch)."""
    cores = sorted({core for row in customer_rows if isinstance(core := row[NAME_KEY], str)})
    if not cores:
        return
    with connection.cursor() as cursor:
        cursor.executemany(
            f"INSERT INTO {PINYIN_TABLE} (core, pinyin, initials) VALUES (%s, %s, %s) "
            "ON CONFLICT (core) DO UPDATE SET pinyin = excluded.pinyin, "
            "initials = excluded.initials",
            [(core, *pinyin_keys(core)) for core in cores],
        )


@dataclass
class Tally:
    """What was written, for the summary."""

    statuses: Counter[str] = field(default_factory=Counter)
    rows: Counter[str] = field(default_factory=Counter)


class DemoTables:
    def __init__(self) -> None:
        self.writers = {
            table: TableWriter(MODELS[table], FIELDS[table], TRANSFORMS.get(table))
            for table in TABLES
        }
        self.tally = Tally()

    def next_ids(self) -> dict[str, int]:
        return dict(zip(TABLES, next_ids([MODELS[table] for table in TABLES]), strict=True))

    def write(self, batch: RowBatch) -> None:
        """One transaction per batch."""
        with transaction.atomic():
            for table in TABLES:
                self.writers[table].write(batch.rows[table])
            write_pinyin(batch.rows["customers"])
        self.tally.statuses.update(batch.statuses)
        self.tally.rows.update({table: len(batch.rows[table]) for table in TABLES})

    def indexes_suspended(self) -> AbstractContextManager[None]:
        """The five tables' secondary indexes built once after a large load (SQLite)."""
        return secondary_indexes_suspended([MODELS[table] for table in TABLES])

    def finish(self) -> None:
        reset_sequences([MODELS[table] for table in TABLES])
