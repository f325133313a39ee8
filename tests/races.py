"""Running one action on several threads released together, each with its own database
connection, and tallying what each got: ``ok`` or the refusal's stable code."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Sequence
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


def against_sweep(
    customers: Sequence[Any], act: Callable[[Any], Any], sweep: Callable[[], Any]
) -> tuple[set[int], set[int], Any]:
    """``act(customer)`` on each customer, last first (a sweep walks them the other way), on
    one thread while ``sweep()`` runs on another, released together: the ids it was accepted
    for, those refused, and the sweep's report. A crash on either side fails the test."""
    barrier = threading.Barrier(2)
    accepted: set[int] = set()
    refused: set[int] = set()
    failures: list[BaseException] = []
    found: dict[str, Any] = {}

    def acting() -> None:
        try:
            barrier.wait(timeout=30)
            for customer in reversed(customers):
                try:
                    act(customer)
                    accepted.add(customer.pk)
                except HighSeasError:
                    refused.add(customer.pk)
        except BaseException as failure:
            failures.append(failure)
        finally:
            connection.close()

    def sweeping() -> None:
        try:
            barrier.wait(timeout=30)
            found["report"] = sweep()
        except BaseException as failure:
            failures.append(failure)
        finally:
            connection.close()

    threads = [threading.Thread(target=acting), threading.Thread(target=sweeping)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not failures, failures
    return accepted, refused, found["report"]
