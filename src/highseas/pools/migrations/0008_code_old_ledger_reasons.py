"""Old ledger rows whose reason is a known system text, in either language, get its code and
parameters; a person's words and unknown texts stay free text (``pools.reasons.code_old_rows``).

Not atomic: each batch of rows commits on its own, so that on a ledger of millions of rows a
run stopped halfway keeps its work and the next run goes on from the rows still without a code.
"""

from typing import Any

from django.db import migrations


def code_reasons(apps: Any, schema_editor: Any) -> None:
    from highseas.pools.reasons import code_old_rows

    code_old_rows(
        apps.get_model("pools", "OwnershipEvent"),
        apps.get_model("pools", "ClaimRequest"),
        using=schema_editor.connection.alias,
    )


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("pools", "0007_ledger_reason_codes"),
    ]

    operations = [
        migrations.RunPython(code_reasons, migrations.RunPython.noop, elidable=True),
    ]
