"""Running one action on several threads released together, each with its own database
connection, and tallying what each got: ``ok`` or the refusal's stable code."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

from django.db import connection

from highseas.engine.errors import HighSeasError


def race(count: int, action: Callable[[int], Any]) -> Counter[str]:
    """Run ``action(i)`` on ``count`` threads released together; tally the outcomes."""
    barrier = threading.Barrier(count)
    outcomes: list[str] = ["not run"] * count

    def run(index: int) -> None:
        try:
            connection.ensure_connection()  # connected before the start, so they truly race
            barrier.wait(timeout=30)
            action(index)
            outcomes[index] = "ok"
        except HighSeasError as refusal:
            outcomes[index] = refusal.code.value
        except Exception as crash:  # reported, never swallowed: the assertion shows it
            outcomes[index] = f"crash: {crash!r}"
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return Counter(outcomes)
