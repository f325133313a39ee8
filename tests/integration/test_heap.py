"""A serving process freezes what start-up left (``config.heap.settle``), so a full collection
of the cyclic garbage collector walks only what requests create, not the ~360,000 objects of
Django, the application and its dictionaries."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.management import call_command
from gunicorn.http import wsgi

from highseas.config import embedded, heap
from highseas.config.production import ServerOptions
from tests.gunicorn_worker import worker


@pytest.fixture(autouse=True)
def unfrozen() -> Iterator[None]:
    gc.unfreeze()
    yield
    gc.unfreeze()


def test_settle_freezes_what_exists_and_leaves_new_objects_collectable() -> None:
    frozen = heap.settle()
    # Since then, another thread of the run (a server a test left stopping) may have frozen a
    # few more, and a frozen object whose last reference went is freed (the count drops).
    assert frozen > 10_000 and abs(gc.get_freeze_count() - frozen) < frozen // 100
    cycle: list[Any] = []
    cycle.append(cycle)
    del cycle
    assert gc.collect() >= 1  # what is made afterwards is still collected


@pytest.mark.django_db
def test_the_embedded_server_settles_its_heap_before_it_serves(monkeypatch: Any) -> None:
    frozen_when_serving: list[int] = []
    monkeypatch.setattr(
        embedded, "serve", lambda *args, **kwargs: frozen_when_serving.append(gc.get_freeze_count())
    )
    call_command("serve", "--no-scheduler", "--port", "0")
    assert frozen_when_serving and frozen_when_serving[0] > 10_000


def test_each_production_worker_settles_its_heap_once_started(monkeypatch: Any) -> None:
    monkeypatch.setattr(wsgi, "Response", wsgi.Response)  # the hook sets this worker's answers
    hook = ServerOptions().gunicorn_settings()["post_worker_init"]
    hook(worker())
    assert gc.get_freeze_count() > 10_000


def test_a_settled_process_has_its_urlconf_and_catalogs_loaded(monkeypatch: Any) -> None:
    from django.urls import clear_url_caches, get_resolver
    from django.utils.translation import trans_real

    clear_url_caches()
    monkeypatch.setattr(trans_real, "_translations", {})
    heap.settle()
    assert "url_patterns" in get_resolver().__dict__  # the cached property was filled
    assert {"zh-hans", "en"} <= set(trans_real._translations)
