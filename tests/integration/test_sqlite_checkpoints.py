"""The write-ahead log of SQLite: checkpointed by the embedded server's own thread
(``config.sqlite.checkpoints``), and by a commit only past ``WAL_AUTOCHECKPOINT_PAGES``."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection

from highseas.config import embedded
from highseas.config.sqlite import checkpoints

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif("connection.vendor != 'sqlite'"),
]


def _write(org: dict[str, Any], make_customer: Any, count: int = 5) -> None:
    for _ in range(count):
        make_customer(org["rep_a"], pool=org["east_pool"])


def test_a_commit_checkpoints_only_past_the_configured_pages() -> None:
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA wal_autocheckpoint")
        assert cursor.fetchone()[0] == settings.WAL_AUTOCHECKPOINT_PAGES == 10_000


def test_a_checkpoint_copies_the_whole_log(org: dict[str, Any], make_customer: Any) -> None:
    _write(org, make_customer)
    busy, in_log, copied = checkpoints.checkpoint()
    assert (busy, copied) == (0, in_log)
    assert in_log > 0


def test_the_thread_checkpoints_until_stopped(
    org: dict[str, Any],
    make_customer: Any,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    _write(org, make_customer)
    answers: list[tuple[int, int, int]] = []
    real = checkpoints.checkpoint

    def once_failing_then_real() -> tuple[int, int, int]:
        if not answers:
            answers.append((-1, -1, -1))
            raise RuntimeError("disk I/O error")
        found = real()
        answers.append(found)
        return found

    monkeypatch.setattr(checkpoints, "checkpoint", once_failing_then_real)
    stop = threading.Event()
    with caplog.at_level(logging.ERROR, "highseas.sqlite"):
        thread = checkpoints.start_checkpoints(stop, every=0.02)
        assert thread is not None and thread.name == checkpoints.THREAD
        deadline = time.monotonic() + 10
        while len(answers) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        stop.set()
        thread.join(5)
    assert not thread.is_alive()
    assert "checkpoint of the write-ahead log failed" in caplog.text  # and it went on
    busy, in_log, copied = answers[1]
    assert (busy, copied) == (0, in_log) and in_log > 0  # the first real one copied the writes


def test_the_embedded_server_checkpoints_while_it_serves(monkeypatch: pytest.MonkeyPatch) -> None:
    running: list[threading.Thread] = []

    def serving(*_args: Any, **_kwargs: Any) -> None:
        running.extend(t for t in threading.enumerate() if t.name == checkpoints.THREAD)

    monkeypatch.setattr(embedded, "serve", serving)
    call_command("serve", "--no-scheduler", "--port", "0")
    assert len(running) == 1
    running[0].join(5)
    assert not running[0].is_alive()  # stopped with the server
