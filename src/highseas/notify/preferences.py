"""Each user's choice of how to hear of each category of notification: at once, or in one
daily digest (``notify.digest``).

1. The kinds of notification fall into ``CATEGORIES``; a kind not listed is a system notice.
2. A user without a stored choice has ``DEFAULT``: recycle warnings wait for the digest at
   08:30 in the organisation's time zone, everything else comes at once.
3. A notification in a digest category still lands in the inbox at once, unread; the outbox
   queues no e-mail or webhook for it (``is_held``). The digest itself is never held.
4. The channels besides the inbox exist only where the deployment enables them; a user may
   turn each off for themself (``channel_allowed``).
5. Only the user themself changes their choice (``save_preferences``); an unknown field is
   refused, and a refusal changes nothing.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext_lazy, gettext_noop, ngettext_lazy

from highseas.accounts.visibility import Viewer
from highseas.engine.errors import ErrorCode, HighSeasError
from highseas.notify.models import Delivery, NotificationPreference

DIGEST_KIND = "digest"

# category → the kinds in it, in the order a digest lists them (module rule 1)
CATEGORIES: dict[str, tuple[str, ...]] = {
    "recycle_warnings": ("recycle_warning",),
    "assignments": (
        "assigned",
        "transferred",
        "claimed",
        "released",
        "recycled",
        "merged",
        "frozen",
        "unfrozen",
        "created",
    ),
    "mentions": ("mention",),
    "tasks": ("task_assigned", "task_due", "next_contact", "birthday", "important_date"),
    "claim_requests": ("claim_approved", "claim_rejected"),
    "system": (),
}
SYSTEM = "system"
CATEGORY_LABELS = {
    "recycle_warnings": gettext_lazy("Recycle warnings"),
    "assignments": gettext_lazy("Assignments and ownership changes"),
    "mentions": gettext_lazy("Mentions"),
    "tasks": gettext_lazy("Tasks and reminders"),
    "claim_requests": gettext_lazy("Claim requests"),
    "system": gettext_lazy("System notices"),
}
# "12 recycle warnings": a day's group in the inbox
CATEGORY_COUNTS = {
    "recycle_warnings": ngettext_lazy("%(n)s recycle warning", "%(n)s recycle warnings", "n"),
    "assignments": ngettext_lazy(
        "%(n)s assignment or ownership change", "%(n)s assignments and ownership changes", "n"
    ),
    "mentions": ngettext_lazy("%(n)s mention", "%(n)s mentions", "n"),
    "tasks": ngettext_lazy(
        "%(n)s task notice or reminder", "%(n)s task notices and reminders", "n"
    ),
    "claim_requests": ngettext_lazy(
        "%(n)s claim request decision", "%(n)s claim request decisions", "n"
    ),
    "system": ngettext_lazy("%(n)s system notice", "%(n)s system notices", "n"),
}
KIND_CATEGORY = {kind: category for category, kinds in CATEGORIES.items() for kind in kinds}
KNOWN_KINDS = tuple(KIND_CATEGORY)

IMMEDIATE, DIGEST = "immediate", "digest"
FIELDS = frozenset(
    {"digest_categories", "digest_time", "time_zone", "language", "email", "webhook"}
)


def category_of(kind: str) -> str:
    return KIND_CATEGORY.get(kind, SYSTEM)


@dataclass(frozen=True)
class Preferences:
    digest_categories: frozenset[str] = frozenset({"recycle_warnings"})
    digest_time: time = time(8, 30)
    time_zone: str = ""  # the organisation's (settings.TIME_ZONE) when empty
    language: str = ""  # the organisation's (settings.LANGUAGE_CODE) when empty
    email: bool = True
    webhook: bool = True

    @property
    def zone(self) -> str:
        return self.time_zone or str(settings.TIME_ZONE)

    @property
    def reader_language(self) -> str:
        return self.language or str(settings.LANGUAGE_CODE)


DEFAULT = Preferences()


def of_row(row: NotificationPreference) -> Preferences:
    return Preferences(
        digest_categories=frozenset(row.digest_categories or ()),
        digest_time=row.digest_time,
        time_zone=row.time_zone,
        language=row.language,
        email=row.email,
        webhook=row.webhook,
    )


def preferences_for(user_ids: Iterable[int]) -> dict[int, Preferences]:
    """Each user's preferences (``DEFAULT`` for one who never chose), in one query."""
    wanted = set(user_ids)
    rows = NotificationPreference.objects.filter(user_id__in=wanted)
    found = {row.user_id: of_row(row) for row in rows}
    return {user_id: found.get(user_id, DEFAULT) for user_id in wanted}


def is_held(preferences: Preferences, kind: str) -> bool:
    """Whether a notification of ``kind`` waits for the digest (module rule 3)."""
    return kind != DIGEST_KIND and category_of(kind) in preferences.digest_categories


def channel_allowed(preferences: Preferences, channel: str) -> bool:
    if channel == Delivery.Channel.EMAIL:
        return preferences.email
    return preferences.webhook


def held_kinds_filter(categories: Iterable[str]) -> dict[str, Any]:
    """The lookups of the notifications in ``categories``: ``{"include": kinds,
    "others": bool}`` — ``others`` when system notices (every unlisted kind) are in."""
    chosen = set(categories)
    kinds = [kind for kind in KNOWN_KINDS if KIND_CATEGORY[kind] in chosen]
    return {"include": kinds, "others": SYSTEM in chosen}


@cache
def time_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def next_digest_at(now: datetime, at: time, zone: str, skip_day: date | None = None) -> datetime:
    """The first moment after ``now`` that is ``at`` o'clock in ``zone`` on a local day other
    than ``skip_day`` (the day whose digest was already sent), in UTC."""
    tz = zoneinfo.ZoneInfo(zone)
    day = now.astimezone(tz).date()
    while True:
        moment = datetime.combine(day, at, tzinfo=tz)
        if moment > now and day != skip_day:
            return moment.astimezone(UTC)
        day += timedelta(days=1)


def digest_day(moment: datetime, zone: str) -> date:
    return moment.astimezone(zoneinfo.ZoneInfo(zone)).date()


def enabled_channels() -> list[str]:
    """The channels besides the inbox that the deployment enables (module rule 4)."""
    found = []
    if settings.HIGHSEAS_EMAIL_NOTIFICATIONS:
        found.append(Delivery.Channel.EMAIL.value)
    if settings.HIGHSEAS_WEBHOOK_URL:
        found.append(Delivery.Channel.WEBHOOK.value)
    return found


def preferences_of(viewer: Viewer) -> Preferences:
    return preferences_for([viewer.user.pk])[viewer.user.pk]


def _refused(detail: str, **facts: Any) -> HighSeasError:
    return HighSeasError(ErrorCode.VALIDATION_ERROR, detail, **facts)


def _checked(changes: Mapping[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(changes) - FIELDS)
    if unknown:
        raise _refused(gettext_noop("These fields cannot be changed here."), fields=unknown)
    values = dict(changes)
    if "digest_categories" in values:
        chosen = values["digest_categories"]
        if not isinstance(chosen, list | tuple | set | frozenset) or not set(chosen) <= set(
            CATEGORIES
        ):
            detail = gettext_noop("Unknown notification category.")
            raise _refused(detail, field="digest_categories")
        values["digest_categories"] = [c for c in CATEGORIES if c in set(chosen)]
    if "digest_time" in values and not isinstance(values["digest_time"], time):
        raise _refused(gettext_noop("Enter a valid time."), field="digest_time")
    if "time_zone" in values and values["time_zone"] not in time_zones():
        raise _refused(gettext_noop("Unknown time zone."), field="time_zone")
    languages = {code for code, _name in settings.LANGUAGES}
    if "language" in values and values["language"] not in languages:
        raise _refused(gettext_noop("Unknown language."), field="language")
    for flag in ("email", "webhook"):
        if flag in values and not isinstance(values[flag], bool):
            raise _refused(gettext_noop("Enter yes or no."), field=flag)
    return values


def save_preferences(
    viewer: Viewer, user_id: int, changes: Mapping[str, Any], now: datetime
) -> Preferences:
    """Change ``user_id``'s preferences: only their own (module rule 5). The next digest is
    rescheduled to the new time, never twice on a day whose digest was sent."""
    if user_id != viewer.user.pk:
        raise HighSeasError(
            ErrorCode.PERMISSION_DENIED,
            gettext_noop("Only the user themself can change their notification settings."),
        )
    values = _checked(changes)
    with transaction.atomic():
        row, _created = NotificationPreference.objects.select_for_update().get_or_create(
            user_id=user_id
        )
        for name, value in values.items():
            setattr(row, name, value)
        prefs = of_row(row)
        skip = digest_day(row.last_digest_at, prefs.zone) if row.last_digest_at else None
        row.next_digest_at = next_digest_at(now, row.digest_time, prefs.zone, skip)
        row.save()
    return prefs


def settings_of(viewer: Viewer) -> dict[str, Any]:
    """The viewer's own settings as the API shows them, with the channels the deployment
    enables and the next digest's moment (None before the digest job first saw them)."""
    prefs = preferences_of(viewer)
    mine = NotificationPreference.objects.filter(pk=viewer.user.pk)
    return {
        "digest_categories": [c for c in CATEGORIES if c in prefs.digest_categories],
        "digest_time": prefs.digest_time,
        "time_zone": prefs.zone,
        "language": prefs.reader_language,
        "email": prefs.email,
        "webhook": prefs.webhook,
        "channels": enabled_channels(),
        "next_digest_at": mine.values_list("next_digest_at", flat=True).first(),
    }
