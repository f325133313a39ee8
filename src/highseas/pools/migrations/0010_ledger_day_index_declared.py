"""The ledger's day-count index, made by raw SQL in ``insights.0004``/``0005``, declared on the
model: on SQLite a change of the ledger's columns rebuilds the table and keeps only the
indexes the model declares, which once dropped this one. The database keeps the index it has
(or gets it, if it lacks it); only the model's state learns of it."""

from django.db import migrations, models

INDEX = "insights_ledger_day_counts"
CREATE = (
    f"CREATE INDEX IF NOT EXISTS {INDEX} ON pools_ownershipevent "
    "(at, kind, to_owner_id, to_status, from_owner_id, from_status)"
)


class Migration(migrations.Migration):
    dependencies = [("pools", "0009_job_lease")]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunSQL(CREATE, migrations.RunSQL.noop)],
            state_operations=[
                migrations.AddIndex(
                    model_name="ownershipevent",
                    index=models.Index(
                        fields=["at", "kind", "to_owner", "to_status", "from_owner", "from_status"],
                        name=INDEX,
                    ),
                )
            ],
        )
    ]
