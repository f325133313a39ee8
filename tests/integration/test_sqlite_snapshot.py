"""``config.sqlite.snapshot.on_a_copy``: a block that runs on a private copy of the SQLite
database, holding no lock of the real one, and leaves neither a write nor a file behind."""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import Any

import pytest
from django.db import connection, connections, transaction

from highseas.config.sqlite import snapshot
from highseas.customers.models import Customer
from highseas.pools.ownership import claim

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif("connection.vendor != 'sqlite'"),
]


def _copies() -> list[Path]:
    directory = Path(connection.settings_dict["NAME"]).parent
    return sorted(directory.glob(".highseas-copy-*"))


def test_the_block_writes_to_the_copy_and_the_database_never_sees_it(
    org: dict[str, Any], make_customer: Any
) -> None:
    pooled = make_customer(org["rep_a"], pool=org["east_pool"])
    real = connection.settings_dict["NAME"]
    with snapshot.on_a_copy() as copied:
        assert copied
        assert connection.settings_dict["NAME"] != real
        assert [path.name for path in _copies()]  # beside the database
        with transaction.atomic():
            claim(org["rep_b"], pooled.pk)  # the gate of the real database is not taken
            assert Customer.objects.get(pk=pooled.pk).owner_id == org["rep_b"].pk
        assert Customer.objects.get(pk=pooled.pk).owner_id == org["rep_b"].pk
    assert connection.settings_dict["NAME"] == real
    assert Customer.objects.get(pk=pooled.pk).owner_id is None
    assert _copies() == []


def test_a_failing_block_gives_the_connection_back_and_removes_the_copy(
    org: dict[str, Any], make_customer: Any
) -> None:
    pooled = make_customer(org["rep_a"], pool=org["east_pool"])
    own = connections["default"]
    with pytest.raises(RuntimeError), snapshot.on_a_copy():
        Customer.objects.filter(pk=pooled.pk).update(name="改过")
        raise RuntimeError("the block failed")
    assert connections["default"] is own
    assert Customer.objects.get(pk=pooled.pk).name == pooled.name
    assert _copies() == []


def test_inside_a_transaction_the_block_runs_in_place(
    org: dict[str, Any], make_customer: Any
) -> None:
    """The block must see the transaction's own writes, which no copy holds."""
    with transaction.atomic():
        pooled = make_customer(org["rep_a"], pool=org["east_pool"])
        with snapshot.on_a_copy() as copied:
            assert not copied
            assert Customer.objects.filter(pk=pooled.pk).exists()
    assert _copies() == []


def test_when_no_copy_can_be_written_the_block_runs_in_place(
    org: dict[str, Any], monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def no_space(*_args: Any, **_kwargs: Any) -> Any:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(tempfile, "mkstemp", no_space)
    own = connections["default"]
    with caplog.at_level(logging.WARNING, "highseas.sqlite"), snapshot.on_a_copy() as copied:
        assert not copied
        assert connections["default"] is own
    assert "working in place" in caplog.text
    assert _copies() == []
