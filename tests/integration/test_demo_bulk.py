"""The demo's bulk-writing internals: a large load's indexes are built once at the end and
come back exactly as they were (also when the load fails); the bulk settings are put back;
the fast adapters give what the backend's own adapters give."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection

from highseas.customers.models import Activity, Customer
from highseas.demo import writer
from highseas.demo.tables import MODELS

pytestmark = pytest.mark.django_db


def _indexes() -> list[tuple[str, str]]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT name, sql FROM sqlite_master WHERE type = 'index' ORDER BY name")
        return list(cursor.fetchall())


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite only: elsewhere a no-op")
def test_secondary_indexes_come_back_exactly_as_they_were_even_after_a_failure() -> None:
    before = _indexes()
    kept = {name for name, sql in before if sql is None or sql.startswith("CREATE UNIQUE")}
    with writer.secondary_indexes_suspended(list(MODELS.values())):
        during = {name for name, _sql in _indexes()}
        assert "customer_pool_list" not in during and "activity_timeline" not in during
        assert kept <= during
    assert _indexes() == before
    with pytest.raises(RuntimeError), writer.secondary_indexes_suspended([Customer, Activity]):
        raise RuntimeError("the load failed")
    assert _indexes() == before


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite only: elsewhere a no-op")
def test_bulk_settings_are_put_back() -> None:
    def current() -> dict[str, Any]:
        with connection.cursor() as cursor:
            found = {}
            for name in ("cache_size", "synchronous", "temp_store"):
                cursor.execute(f"PRAGMA {name}")
                found[name] = cursor.fetchone()[0]
            return found

    before = current()
    with writer.bulk_load_settings():
        assert current()["synchronous"] == 0
    assert current() == before


@pytest.mark.parametrize(
    "moment", [0, 59, 86_399, 86_400, 1_767_225_599, 1_767_229_261, -1, -86_401, 4_102_444_800]
)
def test_the_fast_datetime_text_is_the_backends_own(moment: int) -> None:
    adapt = writer._datetime_adapter()
    through_backend = connection.ops.adapt_datetimefield_value(writer.to_datetime(moment))
    assert adapt(moment) == through_backend
    if connection.vendor == "sqlite":
        assert adapt is writer._utc_text


@pytest.mark.parametrize("value", [[], {}, ["a"], {"k": "科技"}, [{}], 0, "", None])
def test_the_fast_json_text_is_the_backends_own(value: Any) -> None:
    adapt = writer._json_adapter(None)
    expected = connection.ops.adapt_json_value(value, None)
    got = adapt(value)
    assert got == expected or str(got) == str(expected)
