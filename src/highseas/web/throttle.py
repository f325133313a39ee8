"""Login throttling: after too many failures for one username from one address, wait."""

from __future__ import annotations

from django.core.cache import cache

MAX_FAILURES = 5
LOCKOUT_SECONDS = 300


def _key(username: str, address: str) -> str:
    return f"login-failures:{username.lower()}:{address}"


def is_locked_out(username: str, address: str) -> bool:
    return int(cache.get(_key(username, address), 0)) >= MAX_FAILURES


def record_failure(username: str, address: str) -> None:
    key = _key(username, address)
    cache.add(key, 0, LOCKOUT_SECONDS)
    cache.incr(key)


def clear_failures(username: str, address: str) -> None:
    cache.delete(_key(username, address))
