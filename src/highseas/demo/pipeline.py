"""Generating batches of demo rows, in this process or in a second one.

With two cores the database writes (in this process) and the generation (in a child
process) overlap. The generator sends batches through a bounded queue, so memory stays at
a few batches; the rows are the same either way, as one ``random.Random`` makes them all in
the same order.
"""

from __future__ import annotations

import multiprocessing
import queue
import random
import traceback
from collections.abc import Iterator
from dataclasses import dataclass
from multiprocessing.process import BaseProcess
from typing import Any

from highseas.demo.book import OwnershipBook
from highseas.demo.identity import NumberPlan
from highseas.demo.profiles import ProfileFactory
from highseas.demo.rows import RowBatch, RowBuilder
from highseas.demo.story import StoryTeller
from highseas.demo.world import DemoWorld

QUEUED_BATCHES = 2
POLL_SECONDS = 1.0


class GenerationFailed(RuntimeError):
    """The generator process failed; the message carries its traceback."""


@dataclass
class GenerationPlan:
    """Everything generation needs; picklable, for the generator process."""

    rng: random.Random
    world: DemoWorld
    customers: int
    batch_size: int
    next_ids: dict[str, int]


def generate_batches(plan: GenerationPlan) -> Iterator[RowBatch]:
    """The customers' rows, ``plan.batch_size`` customers at a time."""
    rng, world = plan.rng, plan.world
    profiles = ProfileFactory(rng, NumberPlan(), world.clock.local_date(world.clock.now).year)
    teller = StoryTeller(rng, world, OwnershipBook(world.clock, world.rep_count))
    builder = RowBuilder(plan.next_ids)
    for first in range(0, plan.customers, plan.batch_size):
        batch = RowBatch()
        for _ in range(min(plan.batch_size, plan.customers - first)):
            profile = profiles.make()
            builder.add(batch, profile, teller.tell(profile))
        yield batch


class BatchesFromProcess:
    """``generate_batches`` run by a child process, as a context manager that starts the
    child on entry (before any thread of ours exists) and stops it on exit.

    The child is forked where the platform can (it then shares the loaded code and never
    touches the database connection it inherits), else spawned.
    """

    def __init__(self, plan: GenerationPlan) -> None:
        can_fork = "fork" in multiprocessing.get_all_start_methods()
        context = (
            multiprocessing.get_context("fork")
            if can_fork
            else multiprocessing.get_context("spawn")
        )
        self.batches: Any = context.Queue(maxsize=QUEUED_BATCHES)
        self.process = context.Process(target=_produce, args=(plan, self.batches), daemon=True)

    def __enter__(self) -> Iterator[RowBatch]:
        self.process.start()
        return self._receive()

    def __exit__(self, *exc_info: object) -> None:
        if self.process.is_alive():
            self.process.terminate()
        self.process.join()

    def _receive(self) -> Iterator[RowBatch]:
        while (batch := _next_batch(self.batches, self.process)) is not None:
            yield batch


def _produce(plan: GenerationPlan, batches: Any) -> None:
    try:
        for batch in generate_batches(plan):
            _send(batches, batch)
        _send(batches, None)
    except BaseException:
        _send(batches, traceback.format_exc())


def _send(batches: Any, item: RowBatch | str | None) -> None:
    """Put ``item`` on the queue; give up when the parent is gone and nobody will read it."""
    parent = multiprocessing.parent_process()
    while True:
        try:
            batches.put(item, timeout=POLL_SECONDS)
            return
        except queue.Full:
            if parent is not None and not parent.is_alive():
                batches.cancel_join_thread()  # what the queue still holds will never be read
                raise SystemExit(1) from None


def _next_batch(batches: Any, process: BaseProcess) -> RowBatch | None:
    while True:
        try:
            item = batches.get(timeout=POLL_SECONDS)
        except queue.Empty as empty:
            if not process.is_alive():
                exit_code = process.exitcode
                raise GenerationFailed(f"the generator exited with code {exit_code}") from empty
            continue
        if isinstance(item, str):
            raise GenerationFailed(item)
        assert item is None or isinstance(item, RowBatch)
        return item
