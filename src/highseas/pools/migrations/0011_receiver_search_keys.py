"""The rep picker's search keys (``pools.receivers``): one row per person with the keys they
are found by (name, username, the name's pinyin and initials), computed in Python and kept
beside the name and username they were computed from, so that the picker filters and ranks
people in the database instead of reading everyone. No model: the picker refreshes stale or
missing rows itself before a search, and the table holds nothing that cannot be recomputed."""

from django.db import migrations

CREATE = (
    "CREATE TABLE IF NOT EXISTS pools_receiver_keys ("
    "user_id bigint NOT NULL PRIMARY KEY, "
    "username varchar(150) NOT NULL, "
    "name varchar(100) NOT NULL, "
    "keys text NOT NULL)"
)


class Migration(migrations.Migration):
    dependencies = [("pools", "0010_ledger_day_index_declared")]

    operations = [
        migrations.RunSQL(CREATE, "DROP TABLE IF EXISTS pools_receiver_keys", elidable=False),
    ]
