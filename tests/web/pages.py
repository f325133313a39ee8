"""Reading server-rendered pages in tests: through Django's test client, and in the browser
(a full-page screenshot, a page no wider than its screen)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.test import Client

SCREENSHOTS = Path(os.environ.get("HIGHSEAS_SCREENSHOTS", "artifacts/screenshots"))
PHONE = {"width": 390, "height": 844}


def signed_in(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def html(response: Any) -> str:
    assert response.status_code == 200, response.status_code
    return str(response.content.decode())


def messages_of(response: Any) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def in_language(sign_in: Any, username: str, language: str, size: dict[str, int]) -> Any:
    """A browser page signed in as ``username`` at ``size``, switched to English when
    ``language`` is ``en`` (Chinese is the default)."""
    page = sign_in(username, **size)
    if language == "en":
        page.click("[data-lang=en]")
        page.wait_for_selector("html[lang=en]")
    return page


def shoot(page: Any, name: str) -> Path:
    """A full-page screenshot of a browser page, saved as ``<name>.png``."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.evaluate("window.scrollTo(0, 0)")  # a sticky top bar stays at the top of the shot
    page.screenshot(path=str(path), full_page=True)
    return path


def shooter(prefix: str) -> Callable[[Any, str], Path]:
    """``shoot`` for one test file, its shots' names starting with ``prefix``."""
    return lambda page, name: shoot(page, f"{prefix}{name}")


def fits(page: Any) -> None:
    """Nothing on the browser page is wider than its screen."""
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= page.viewport_size["width"] + 1, (page.url, width)
