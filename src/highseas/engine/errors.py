"""Stable error codes: the one list every API answer, CLI message and test refers to."""

from __future__ import annotations

from enum import StrEnum
from typing import Any


class ErrorCode(StrEnum):
    ALREADY_OWNED = "already_owned"
    NOT_OWNER = "not_owner"
    NOT_POOL_MEMBER = "not_pool_member"
    CLAIM_QUOTA_EXCEEDED = "claim_quota_exceeded"
    HOLDING_CAP_REACHED = "holding_cap_reached"
    RECLAIM_COOLDOWN = "reclaim_cooldown"
    FROZEN = "frozen"
    FREEZE_LIMIT_REACHED = "freeze_limit_reached"
    DUPLICATE = "duplicate"
    APPROVAL_REQUIRED = "approval_required"
    PERMISSION_DENIED = "permission_denied"
    NOT_AUTHENTICATED = "not_authenticated"
    NOT_FOUND = "not_found"
    VALIDATION_ERROR = "validation_error"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    THROTTLED = "throttled"
    STATE_CONFLICT = "state_conflict"
    PAYLOAD_TOO_LARGE = "payload_too_large"
    LOOKUP_LIMIT_REACHED = "lookup_limit_reached"
    LOGIN_LOCKED = "login_locked"
    HANDOVER_REQUIRED = "handover_required"
    VIEW_QUOTA_EXCEEDED = "view_quota_exceeded"
    BUSY = "busy"


def gettext_noop(message: str) -> str:
    """Marks a message for translation; the edges translate it when they answer."""
    return message


class HighSeasError(Exception):
    """A refusal with a stable code, a human sentence, and the facts behind it."""

    def __init__(self, code: ErrorCode, detail: str, **facts: Any) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail
        self.facts = facts
        self.audited = False  # set by a service that already wrote this refusal's audit row
        self.wrote_nothing = False  # set by a service that refused before writing anything

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code.value, "detail": self.detail, **self.facts}
