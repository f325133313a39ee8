"""Headless Chromium from the system packages (Debian `chromium`), driven by Playwright."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from typing import Any

import pytest

from tests.web.pages import shoot

CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--lang=zh-CN",
]


def _chromium_path() -> str:
    path = (
        os.environ.get("HIGHSEAS_CHROMIUM")
        or shutil.which("chromium")
        or shutil.which("chromium-browser")
    )
    if not path:
        pytest.fail(
            "Chromium is not installed (apt-get install chromium); browser tests "
            "need it and never download a browser."
        )
    return path


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop on this thread; the ORM calls the tests make
    # on it are still synchronous, so Django's async-safety guard does not apply.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=_chromium_path(),
            headless=True,
            args=CHROMIUM_FLAGS,
            env={**os.environ, "LANG": "zh_CN.UTF-8", "LANGUAGE": "zh_CN"},
        )
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1366, "height": 860}, locale="zh-CN")
    yield context.new_page()
    context.close()


@pytest.fixture
def screenshot() -> Any:
    return shoot


@pytest.fixture
def sign_in(browser: Any, live_server: Any) -> Iterator[Any]:
    """Open a fresh browser context signed in as ``username`` (password ``pw-<username>``)."""
    contexts: list[Any] = []

    def open_as(username: str, *, width: int = 1366, height: int = 860) -> Any:
        context = browser.new_context(viewport={"width": width, "height": height}, locale="zh-CN")
        contexts.append(context)
        page = context.new_page()
        page.goto(f"{live_server.url}/login/")
        page.fill("#id_username", username)
        page.fill("#id_password", f"pw-{username}")
        page.click("button.primary")
        page.wait_for_selector(".welcome h1")
        return page

    yield open_as
    for context in contexts:
        context.close()


@pytest.fixture
def world(org: dict[str, Any]) -> dict[str, Any]:
    """A lived-in East China sales team (see ``tests/web/world.py``)."""
    from django.utils import translation

    from tests.web.world import build_world

    with translation.override("zh-hans"):  # ledger reasons are written in the org's language
        return build_world(org)
