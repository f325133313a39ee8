"""The ledger index of ``0004_ledger_day_index`` again, after the ledger's own migrations that
change its columns: on SQLite such a change rebuilds the table and keeps only the indexes the
model declares, so a database migrated to ``0004`` before ``pools.0007_ledger_reason_codes``
lost it (at 1M customers a window's partial day was then read from the ledger's rows: 8 s
instead of 0.3 s). Where it exists (new databases, PostgreSQL) this does nothing."""

from django.db import migrations

INDEX = "insights_ledger_day_counts"

CREATE = (
    f"CREATE INDEX IF NOT EXISTS {INDEX} ON pools_ownershipevent "
    "(at, kind, to_owner_id, to_status, from_owner_id, from_status)"
)


class Migration(migrations.Migration):
    dependencies = [
        ("insights", "0004_ledger_day_index"),
        ("pools", "0008_code_old_ledger_reasons"),
    ]

    operations = [migrations.RunSQL(CREATE, migrations.RunSQL.noop)]
