"""An index on the ownership ledger that answers a range of ``at`` with every column the
per-rep days count (``insights.snapshots.ledger_counts``) from the index alone: today's
partial day and a window's partial first day are read without touching the ledger's rows.
It lives with the insights, which read it; the ledger's own model does not declare it."""

from django.db import migrations

INDEX = "insights_ledger_day_counts"

CREATE = (
    f"CREATE INDEX IF NOT EXISTS {INDEX} ON pools_ownershipevent "
    "(at, kind, to_owner_id, to_status, from_owner_id, from_status)"
)


class Migration(migrations.Migration):
    dependencies = [
        ("insights", "0003_rep_days"),
        ("pools", "0001_initial"),
    ]

    operations = [migrations.RunSQL(CREATE, f"DROP INDEX IF EXISTS {INDEX}")]
