"""A customer's recycle clock for the engine's schedule tests: owned since ``T0``, level C,
no deal, no activity; a test names only what it changes."""

from __future__ import annotations

from datetime import UTC, datetime

from highseas.engine.ownership import Status
from highseas.engine.recycle import CustomerClock

T0 = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)


def owned_clock(**overrides: object) -> CustomerClock:
    base: dict[str, object] = dict(
        status=Status.OWNED,
        level="C",
        is_won=False,
        has_open_deal=False,
        owned_since=T0,
        last_effective_activity_at=None,
        last_activity_at=None,
    )
    return CustomerClock(**{**base, **overrides})  # type: ignore[arg-type]
