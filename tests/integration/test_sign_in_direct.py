"""The token sign-in's read on SQLite's own cursor (``driver.read_all``) answers what Django's
cursor answers, and still refuses a revoked or expired token and an inactive user's on the very
next request."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from knox.settings import CONSTANTS
from rest_framework.exceptions import AuthenticationFailed

from highseas.accounts import driver
from highseas.accounts.models import ApiToken, User
from highseas.accounts.tokens import DeviceTokenAuthentication, _sign_in_sql, issue_token

pytestmark = pytest.mark.django_db(transaction=True)


def _direct_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every statement run on the driver's cursor from now on."""
    seen: list[str] = []
    converted = driver._converted

    def spy(sql: str, names: tuple[str, ...] | None) -> str:
        seen.append(sql)
        return converted(sql, names)

    monkeypatch.setattr(driver, "_converted", spy)
    return seen


def _signed_in(secret: str) -> tuple[User, ApiToken]:
    user, token = DeviceTokenAuthentication().authenticate_credentials(secret.encode())
    return user, token


def test_the_direct_read_answers_what_django_cursor_answers(
    org: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    issue_token(org["rep_b"], device="other", audited=False)
    _, secret = issue_token(org["rep_a"], device="tests", audited=False)
    sql, key = _sign_in_sql(connection.vendor), [secret[: CONSTANTS.TOKEN_KEY_LENGTH]]
    with CaptureQueriesContext(connection):  # queries logged: Django's cursor
        through_django = driver.read_all(sql, key)
    seen = _direct_calls(monkeypatch)
    direct = driver.read_all(sql, key)
    assert seen == ([sql] if connection.vendor == "sqlite" else [])
    assert not connection.in_atomic_block
    assert len(direct) == 1 and direct == through_django


def test_a_token_signs_in_with_the_direct_read(
    org: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    row, secret = issue_token(org["rep_a"], device="tests", audited=False)
    seen = _direct_calls(monkeypatch)
    user, token = _signed_in(secret)
    assert (user.pk, token.pk) == (org["rep_a"].pk, row.pk)
    assert user.username == org["rep_a"].username and token.device == "tests"
    assert len(seen) == (1 if connection.vendor == "sqlite" else 0)


@pytest.mark.parametrize("change", ["revoked", "expired", "deactivated"])
def test_a_token_is_refused_on_the_very_next_request_after(
    org: dict[str, Any], monkeypatch: pytest.MonkeyPatch, change: str
) -> None:
    row, secret = issue_token(org["rep_a"], device="tests", audited=False)
    seen = _direct_calls(monkeypatch)
    assert _signed_in(secret)[0].pk == org["rep_a"].pk
    if change == "revoked":
        ApiToken.objects.filter(pk=row.pk).delete()
    elif change == "expired":
        ApiToken.objects.filter(pk=row.pk).update(expiry=timezone.now() - timedelta(seconds=1))
    else:
        User.objects.filter(pk=org["rep_a"].pk).update(is_active=False)
    with pytest.raises(AuthenticationFailed):
        _signed_in(secret)
    assert len(seen) == (2 if connection.vendor == "sqlite" else 0)
