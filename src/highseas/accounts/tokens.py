"""API tokens (SPEC §10): one per device, stored hashed, expiring, revocable one by one.

django-rest-knox does the cryptography (a random secret shown once, a SHA-512 digest stored,
constant-time comparison, expiry); ``ApiToken`` adds the device name and the last use. Every
issue and revoke is an audit row. ``update_user`` revokes all of a user's tokens when the
password or the role changes or the account is deactivated.
"""

from __future__ import annotations

import binascii
from datetime import timedelta
from functools import cache
from hmac import compare_digest
from typing import Any

from django.db import connection, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from knox.auth import TokenAuthentication
from knox.crypto import hash_token
from knox.settings import CONSTANTS, knox_settings
from rest_framework.exceptions import AuthenticationFailed

from highseas.accounts import driver, raw_rows
from highseas.accounts.audit import record_audit
from highseas.accounts.models import ApiToken, AuditLog, User
from highseas.engine.errors import ErrorCode, HighSeasError

LAST_USED_PRECISION = timedelta(minutes=1)  # at most one write per token and minute


@transaction.atomic
def issue_token(
    user: User, *, device: str = "", address: str | None = None, audited: bool = True
) -> tuple[ApiToken, str]:
    """A new token for one device of ``user``: the row and the secret (shown only now).

    ``audited=False`` is for set-up code (test fixtures) whose tokens are no user's action."""
    token, secret = ApiToken.objects.issue(user, device=device[:100])
    if audited:
        record_audit(
            user,
            AuditLog.Action.TOKEN_ISSUE,
            target_type="api_token",
            target_id=token.pk,
            address=address,
            device=token.device,
        )
    return token, secret


def tokens_of(user: User) -> QuerySet[ApiToken]:
    """The user's devices that still hold a live token, newest first."""
    now = timezone.now()
    live = Q(expiry__isnull=True) | Q(expiry__gt=now)
    return ApiToken.objects.filter(live, user=user).order_by("-id")


@transaction.atomic
def revoke_token(
    user: User, token_id: object, *, actor: User | None = None, address: str | None = None
) -> None:
    """Revoke one of ``user``'s tokens; another user's token is not found."""
    token = ApiToken.objects.filter(user=user, pk=_as_id(token_id)).first()
    if token is None:
        raise HighSeasError(ErrorCode.NOT_FOUND, _("No such token."))
    record_audit(
        actor or user,
        AuditLog.Action.TOKEN_REVOKE,
        target_type="api_token",
        target_id=token.pk,
        address=address,
        device=token.device,
    )
    token.delete()


@transaction.atomic
def revoke_tokens(
    user: User, *, actor: User | None = None, reason: str = "", address: str | None = None
) -> int:
    """Revoke every token of ``user``; one audit row when there were any."""
    ids = list(ApiToken.objects.filter(user=user).values_list("pk", flat=True))
    if not ids:
        return 0
    ApiToken.objects.filter(pk__in=ids).delete()
    record_audit(
        actor or user,
        AuditLog.Action.TOKEN_REVOKE,
        target_type="user",
        target_id=user.pk,
        address=address,
        tokens=ids,
        reason=reason,
    )
    return len(ids)


def _as_id(raw: object) -> int:
    try:
        return int(str(raw))
    except ValueError:
        raise HighSeasError(ErrorCode.NOT_FOUND, _("No such token.")) from None


@cache
def _sign_in_sql(vendor: str) -> str:
    """The token rows of one key prefix, each with its user's whole row, in one statement."""
    quote = connection.ops.quote_name
    selected = [
        *raw_rows.column_names(ApiToken, "t", raw_rows.concrete_attnames(ApiToken)),
        *raw_rows.column_names(User, "u", raw_rows.concrete_attnames(User)),
    ]
    return (
        f"SELECT {', '.join(selected)} FROM {quote(ApiToken._meta.db_table)} t "
        f"JOIN {quote(User._meta.db_table)} u ON u.id = t.user_id WHERE t.token_key = %s"
    )


class DeviceTokenAuthentication(TokenAuthentication):  # type: ignore[misc]
    """knox's ``Authorization: Token <secret>`` check, noting when each device was last used.

    The check is knox's (the SHA-512 digest of the secret compared in constant time with the
    stored one, expiry, an inactive user refused), read in ONE precompiled statement: the token
    rows of the secret's key prefix joined to their user's row (on SQLite's own cursor,
    ``driver.read_all``), built into instances with the ORM's own converters. knox's queryset
    read the tokens, then every other token of the user (to delete the expired ones) and
    compiled both per request. Nothing is cached between requests, so a revoked token (its row
    deleted, by ``revoke_token``, ``revoke_tokens`` or a deactivation) is refused on the very
    next request in every process. An expired token is handed to knox, which deletes it and
    refuses it; other expired tokens of the user are no longer swept on each request (they are
    refused, and deleted, when presented, and ``tokens_of`` never lists them).
    """

    def authenticate_credentials(self, token: bytes) -> tuple[User, ApiToken]:
        try:
            secret = token.decode("utf-8")
        except UnicodeDecodeError:  # no token we issue: a stray byte or a probe
            raise AuthenticationFailed(_("Invalid token.")) from None
        key = secret[: CONSTANTS.TOKEN_KEY_LENGTH]
        rows = driver.read_all(_sign_in_sql(connection.vendor), [key])
        if not rows:
            raise AuthenticationFailed(_("Invalid token."))
        try:
            digest = hash_token(secret)
        except (TypeError, binascii.Error):
            raise AuthenticationFailed(_("Invalid token.")) from None
        token_fields = raw_rows.concrete_attnames(ApiToken)
        at = token_fields.index("digest")
        for row in rows:
            if not compare_digest(digest, row[at]):
                continue
            found = raw_rows.instance(ApiToken, token_fields, row[: len(token_fields)])
            if found.expiry is not None and found.expiry < timezone.now():
                return super().authenticate_credentials(token)  # type: ignore[no-any-return]
            found.user = raw_rows.instance(
                User, raw_rows.concrete_attnames(User), row[len(token_fields) :]
            )
            if knox_settings.AUTO_REFRESH and found.expiry:
                self.renew_token(found)
            return self.validate_user(found)
        raise AuthenticationFailed(_("Invalid token."))

    def validate_user(self, auth_token: Any) -> tuple[User, ApiToken]:
        user, token = super().validate_user(auth_token)
        now = timezone.now()
        if token.last_used is None or now - token.last_used > LAST_USED_PRECISION:
            ApiToken.objects.filter(pk=token.pk).update(last_used=now)
            token.last_used = now
        return user, token
