"""The reasons the system writes on ledger rows, as codes with parameters, read in the reader's
language (the notifications' way, ``notify.texts``).

1. A reason the system writes is a ``Reason(code, params)``: the code names an English template
   (a msgid marked with ``gettext_noop``) and the params fill it. A ledger row keeps the code
   and params (``reason_code``, ``reason_params``) and, in ``reason``, the English text, for
   readers of the raw table and the not-empty constraint.
2. A reason a person typed (a rep's claim reason, a manager's transfer note) is a plain
   ``str``: stored as typed, with no code, and read as stored. A parameter is never
   translated either: it is a name, a file, a number or a person's words.
3. ``text(code, params, stored)`` is what a row says in the active language: by its code when
   this version knows it, else as stored (free text, or an unknown code).
4. ``parse(text)`` finds the code and params of a text written before codes existed, in either
   language; a person's words match no template and stay free text. ``code_old_rows`` gives
   the ledger's old rows their codes (the data migration), batch by batch, each batch its own
   transaction, so that a run stopped halfway resumes: it reads only rows with no code yet,
   and leaves the ``reason`` column as it was written.
5. A claim request's reason is what the rep typed, or empty when they typed nothing; it is
   read as "Claim request" in the reader's language (``request_text``).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from django.db import models, transaction
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from highseas.notify.texts import parse as parse_text
from highseas.notify.texts import render

CREATED = "created"
REGISTERED = "registered_by_owner"
IMPORTED = "imported"
CLAIMED = "claimed"
CLAIM_APPROVED = "claim_approved"
CLAIM_APPROVED_PLAIN = "claim_approved_plain"
ASSIGNED_BY_MANAGER = "assigned_by_manager"
TRANSFERRED_BY_MANAGER = "transferred_by_manager"
FROZEN = "frozen"
UNFROZEN = "unfrozen"
FREEZE_ENDED = "freeze_ended"
FREEZE_ENDED_BY_TRANSFER = "freeze_ended_by_transfer"
MERGED_INTO = "merged_into"
MERGED_FROM = "merged_from"
UNMERGED_INTO = "unmerged_into"
UNMERGED_FROM = "unmerged_from"
RULE_ASSIGNED = "rule_assigned"
HANDOVER = "handover"
WEB_FORM_LEAD = "web_form_lead"
AD_LEAD = "ad_lead"
# the sweep's: one per recycle rule (``engine.schedule``), named like the rule
IDLE_LIMIT = "idle_limit"
NO_DEAL_LIMIT = "no_deal_limit"
FIRST_CONTACT_LIMIT = "first_contact_limit"
WON_REPURCHASE = "won_repurchase"

RECYCLE_TEMPLATES = {
    IDLE_LIMIT: gettext_noop("No effective follow-up for %(limit)s days"),
    NO_DEAL_LIMIT: gettext_noop("No won deal within %(limit)s days of ownership"),
    FIRST_CONTACT_LIMIT: gettext_noop("No follow-up within %(limit)s hours of taking the customer"),
    WON_REPURCHASE: gettext_noop(
        "Won customer: no renewal %(limit)s days after the contract ended"
    ),
}
TEMPLATES: dict[str, str] = {
    CREATED: gettext_noop("Created"),
    REGISTERED: gettext_noop("Registered by the owner"),
    IMPORTED: gettext_noop("Imported from %(file)s"),
    CLAIMED: gettext_noop("Claimed from the pool"),
    CLAIM_APPROVED: gettext_noop(
        "Requested by %(requester)s, approved by manager %(manager)s: %(reason)s"
    ),
    CLAIM_APPROVED_PLAIN: gettext_noop(
        "Requested by %(requester)s, approved by manager %(manager)s"
    ),
    ASSIGNED_BY_MANAGER: gettext_noop("Assigned by a manager"),
    TRANSFERRED_BY_MANAGER: gettext_noop("Transferred by a manager"),
    FROZEN: gettext_noop("Frozen"),
    UNFROZEN: gettext_noop("Unfrozen"),
    FREEZE_ENDED: gettext_noop("The freeze ended"),
    FREEZE_ENDED_BY_TRANSFER: gettext_noop("The freeze ended with the transfer to %(receiver)s"),
    MERGED_INTO: gettext_noop("Merged into customer #%(id)s %(name)s"),
    MERGED_FROM: gettext_noop("Customer #%(id)s %(name)s merged into this one"),
    UNMERGED_INTO: gettext_noop("Merge into customer #%(id)s undone"),
    UNMERGED_FROM: gettext_noop("Merge of customer #%(id)s undone"),
    RULE_ASSIGNED: gettext_noop("Assigned by rule «%(rule)s» (run #%(run)s)"),
    HANDOVER: gettext_noop("Departure handover"),
    WEB_FORM_LEAD: gettext_noop("Lead from the web form (%(campaign)s)"),
    AD_LEAD: gettext_noop("Lead synced from advertising (%(campaign)s)"),
    **RECYCLE_TEMPLATES,
}
CLAIM_REQUEST = gettext_noop("Claim request")
MAX_LENGTH = 300  # the ledger's ``reason`` column


@dataclass(frozen=True, slots=True)
class Reason:
    """What the system says on a ledger row (module rule 1)."""

    code: str
    params: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.code not in TEMPLATES:
            raise ValueError(f"unknown ledger reason code {self.code!r}")

    def render(self) -> str:
        """The text in the active language."""
        return render(TEMPLATES[self.code], self.params)

    def english(self) -> str:
        return _english(self.code, tuple(sorted(self.params.items())))


@lru_cache(maxsize=4_096)
def _english(code: str, params: tuple[tuple[str, Any], ...]) -> str:
    with translation.override("en"):
        return render(TEMPLATES[code], dict(params))


def recycled(rule: str, limit: Any) -> Reason:
    """The sweep's reason for a customer recycled under ``rule``."""
    return Reason(rule, {"limit": limit})


def columns(reason: Reason | str) -> tuple[str, str, dict[str, Any] | None]:
    """``(reason, reason_code, reason_params)`` as a ledger row stores them."""
    if isinstance(reason, Reason):
        return reason.english()[:MAX_LENGTH], reason.code, dict(reason.params) or None
    return reason[:MAX_LENGTH], "", None


def text(code: str, params: Mapping[str, Any] | None, stored: str) -> str:
    """A row's reason in the active language (module rule 3)."""
    if code in TEMPLATES:
        return render(TEMPLATES[code], params or {})
    return stored


def request_text(reason: str) -> str:
    """A claim request's reason as read (module rule 5)."""
    return reason or _(CLAIM_REQUEST)


@lru_cache(maxsize=1)
def _claim_request_texts() -> frozenset[str]:
    found = set()
    for language in ("zh-hans", "en"):
        with translation.override(language):
            found.add(_(CLAIM_REQUEST))
    return frozenset(found)


def is_claim_request_text(stored: str) -> bool:
    """Whether a claim request's stored reason is the system's "Claim request", in either
    language (so that it reads in the reader's)."""
    return stored in _claim_request_texts()


_TEMPLATE_CODES = {template: code for code, template in TEMPLATES.items()}


@lru_cache(maxsize=65_536)
def parse(stored: str) -> Reason | None:
    """The code and params a text was written from, in either language (module rule 4)."""
    found = parse_text(stored, TEMPLATES.values())
    if found is None or found.extra:
        return None
    code, params = _TEMPLATE_CODES[found.template], dict(found.params)
    if code == CLAIM_APPROVED and is_claim_request_text(params["reason"]):
        code, params = CLAIM_APPROVED_PLAIN, {k: params[k] for k in ("requester", "manager")}
    return Reason(code, params)


def code_old_rows(
    events: type[models.Model], requests: type[models.Model], *, using: str, batch: int = 5_000
) -> int:
    """Module rule 4 over the ledger ``events`` and claim ``requests`` models (the migration's
    historical ones); the number of ledger rows given a code."""
    coded, after = 0, 0
    while True:
        with transaction.atomic(using=using):
            rows = list(
                events._default_manager.using(using)
                .filter(pk__gt=after, reason_code="")
                .order_by("pk")
                .values_list("pk", "reason")[:batch]
            )
            if not rows:
                break
            groups: dict[tuple[str, str], list[int]] = defaultdict(list)
            for pk, stored in rows:
                if (found := parse(stored)) is not None:
                    params = json.dumps(dict(found.params), sort_keys=True, ensure_ascii=False)
                    groups[(found.code, params)].append(pk)
            for (code, params), ids in groups.items():
                events._default_manager.using(using).filter(pk__in=ids).update(
                    reason_code=code, reason_params=json.loads(params) or None
                )
                coded += len(ids)
        after = rows[-1][0]
    requests._default_manager.using(using).filter(reason__in=_claim_request_texts()).update(
        reason=""
    )
    return coded
