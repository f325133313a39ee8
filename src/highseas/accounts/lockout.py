"""Failed sign-ins, counted by django-axes: per username and per address, on every door.

The API token endpoint, the web login and ``/admin/login/`` all authenticate through
``django.contrib.auth.authenticate``, where axes' backend refuses a locked-out attempt and its
signal handler counts each failure. Successful sign-ins are never limited, so thirty colleagues
behind one office address all get in, while

- one username is locked after ``HIGHSEAS_LOGIN_FAILURES_PER_USER`` failures (5) from anywhere,
- one address is locked after ``HIGHSEAS_LOGIN_FAILURES_PER_ADDRESS`` failures (30) of any
  usernames (a guesser spraying usernames),

each for ``HIGHSEAS_LOGIN_LOCKOUT_MINUTES`` (15). A success clears that username's failures,
never the address's. Every failure is an audit row ``login_failed`` and every locked attempt
one ``login_locked``, with the address. Each door answers a lockout in its own words: the API
``login_locked`` (HTTP 429), the web and admin forms a plain sentence.
"""

from __future__ import annotations

from typing import Any

from axes.attempts import get_cool_off_threshold
from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_client_username, get_cool_off
from axes.models import AccessAttempt
from axes.signals import user_locked_out
from django.conf import settings
from django.contrib.auth import authenticate, user_logged_in, user_login_failed
from django.db.models import Sum
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from highseas.accounts.audit import record_audit
from highseas.accounts.models import AuditLog, User
from highseas.engine.errors import ErrorCode, HighSeasError

LOCKED_MESSAGE = gettext_lazy("Too many failed sign-ins. Please wait a few minutes and try again.")


def _failures(request: HttpRequest, **match: Any) -> int:
    recent = AccessAttempt.objects.filter(attempt_time__gte=get_cool_off_threshold(request))
    total = recent.filter(**match).aggregate(n=Sum("failures_since_start"))["n"]
    return int(total or 0)


class LoginFailureHandler(AxesDatabaseHandler):  # type: ignore[misc]
    """axes' database handler with two limits: one per username, a higher one per address."""

    def get_failures(self, request: HttpRequest, credentials: dict[str, Any] | None = None) -> int:
        username = get_client_username(request, credentials)
        by_user = _failures(request, username=username) if username else 0
        by_address = _failures(request, ip_address=request.axes_ip_address)  # type: ignore[attr-defined]
        per_user = settings.HIGHSEAS_LOGIN_FAILURES_PER_USER
        per_address = settings.HIGHSEAS_LOGIN_FAILURES_PER_ADDRESS
        # axes compares this number with AXES_FAILURE_LIMIT (the per-user limit): the address
        # count is put on the same scale, reaching it exactly at the per-address limit.
        return max(by_user, by_address * per_user // per_address)

    def reset_user_attempts(
        self, request: HttpRequest, credentials: dict[str, Any] | None = None
    ) -> int:
        """A success clears the username's own failures; the address keeps its count."""
        username = get_client_username(request, credentials)
        if not username:
            return 0
        count, _deleted = AccessAttempt.objects.filter(username=username).delete()
        return int(count)


def is_locked_out(request: HttpRequest | None) -> bool:
    """Whether axes refused (or just locked) the sign-in attempt of this request."""
    return bool(getattr(request, "axes_locked_out", False))


def lockout_seconds() -> int:
    cool_off = get_cool_off()
    return int(cool_off.total_seconds()) if cool_off else 0


def sign_in(request: HttpRequest, *, username: str, password: str) -> User:
    """Check a username and password for the API, counting failures like every other door."""
    user = authenticate(request, username=username, password=password)
    if is_locked_out(request):
        raise HighSeasError(
            ErrorCode.LOGIN_LOCKED,
            str(LOCKED_MESSAGE),
            retry_after_seconds=lockout_seconds(),
        )
    if not isinstance(user, User):
        raise HighSeasError(
            ErrorCode.NOT_AUTHENTICATED, _("The username or password is not correct.")
        )
    user_logged_in.send(sender=User, request=request, user=user)
    return user


def lockout_response(
    request: HttpRequest, original_response: HttpResponse | None, credentials: Any = None
) -> HttpResponse:
    """axes' middleware hook: every door already answered the lockout in its own words."""
    if original_response is not None:
        return original_response
    return HttpResponse(str(LOCKED_MESSAGE), status=429)


def _address(request: HttpRequest | None) -> str | None:
    if request is None:
        return None
    return getattr(request, "axes_ip_address", None) or request.META.get("REMOTE_ADDR") or None


def _attempt(action: AuditLog.Action, request: HttpRequest | None, username: str) -> None:
    username = (username or "")[:150]
    target = User.objects.filter(username=username).values_list("pk", flat=True).first()
    record_audit(
        None,
        action,
        target_type="user" if target else "",
        target_id=target if target else "",
        address=_address(request),
        username=username,
        path=request.path if request is not None else "",
    )


@receiver(user_login_failed, dispatch_uid="highseas-audit-login-failed")
def _audit_login_failed(
    sender: Any, credentials: dict[str, Any], request: HttpRequest | None = None, **kwargs: Any
) -> None:
    _attempt(AuditLog.Action.LOGIN_FAILED, request, str(credentials.get("username") or ""))


@receiver(user_locked_out, dispatch_uid="highseas-audit-login-locked")
def _audit_login_locked(
    sender: Any, request: HttpRequest | None = None, username: str | None = None, **kwargs: Any
) -> None:
    _attempt(AuditLog.Action.LOGIN_LOCKED, request, str(username or ""))
