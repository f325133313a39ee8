"""The ledger's reasons as codes with parameters (``pools.reasons``): the two columns, and a
claim request's reason may be empty (the rep typed none; it reads as "Claim request")."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("pools", "0006_recycle_leave_mode"),
    ]

    operations = [
        migrations.AddField(
            model_name="ownershipevent",
            name="reason_code",
            field=models.CharField(blank=True, db_default="", default="", max_length=40),
        ),
        migrations.AddField(
            model_name="ownershipevent",
            name="reason_params",
            field=models.JSONField(blank=True, null=True),
        ),
        migrations.AlterField(
            model_name="claimrequest",
            name="reason",
            field=models.CharField(blank=True, max_length=300, verbose_name="reason"),
        ),
    ]
