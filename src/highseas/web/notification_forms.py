"""The 通知设置 form: the shapes of a user's notification preferences; the service
(``notify.preferences.save_preferences``) decides and writes."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from highseas.notify.preferences import (
    CATEGORIES,
    CATEGORY_LABELS,
    DIGEST,
    IMMEDIATE,
    Preferences,
    enabled_channels,
)

# the time zones offered, named in the reader's language (an unlisted stored one is kept)
TIME_ZONES = [
    ("Asia/Shanghai", _("China (Beijing time)")),
    ("Asia/Hong_Kong", _("Hong Kong")),
    ("Asia/Taipei", _("Taipei")),
    ("Asia/Singapore", _("Singapore")),
    ("Asia/Tokyo", _("Tokyo")),
    ("Asia/Kolkata", _("India")),
    ("Europe/London", _("London")),
    ("Europe/Berlin", _("Central Europe (Berlin)")),
    ("America/New_York", _("US Eastern (New York)")),
    ("America/Los_Angeles", _("US Pacific (Los Angeles)")),
    ("UTC", _("Coordinated Universal Time")),
]
MODES = [(IMMEDIATE, _("At once")), (DIGEST, _("In the daily digest"))]


def mode_field(category: str) -> str:
    return f"mode_{category}"


class NotificationSettingsForm(forms.Form):
    digest_time = forms.TimeField(
        label=_("Digest time"),
        widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
        help_text=_("The daily digest arrives at this time."),
    )
    time_zone = forms.ChoiceField(label=_("Time zone"))
    language = forms.ChoiceField(
        label=_("Language of e-mails and digests"), choices=settings.LANGUAGES
    )

    def __init__(self, data: Any, *, current: Preferences) -> None:
        initial: dict[str, Any] = {
            "digest_time": current.digest_time,
            "time_zone": current.zone,
            "language": current.reader_language,
            "email": current.email,
            "webhook": current.webhook,
        }
        for category in CATEGORIES:
            chosen = category in current.digest_categories
            initial[mode_field(category)] = DIGEST if chosen else IMMEDIATE
        super().__init__(data, initial=initial)
        zones: list[tuple[str, Any]] = list(TIME_ZONES)
        if current.zone not in dict(zones):
            zones.append((current.zone, current.zone))
        time_zone = self.fields["time_zone"]
        assert isinstance(time_zone, forms.ChoiceField)
        time_zone.choices = zones
        for category in CATEGORIES:
            self.fields[mode_field(category)] = forms.ChoiceField(
                label=CATEGORY_LABELS[category], choices=MODES, widget=forms.RadioSelect
            )
        self.channels = enabled_channels()
        if "email" in self.channels:
            self.fields["email"] = forms.BooleanField(label=_("By e-mail"), required=False)
        if "webhook" in self.channels:
            self.fields["webhook"] = forms.BooleanField(
                label=_("To the team's web callback"), required=False
            )

    @property
    def mode_fields(self) -> list[forms.BoundField]:
        return [self[mode_field(category)] for category in CATEGORIES]

    @property
    def channel_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in ("email", "webhook") if name in self.fields]

    def changes(self) -> dict[str, Any]:
        """The cleaned form as the service's changes (only the fields this form has)."""
        data = self.cleaned_data
        changes: dict[str, Any] = {
            "digest_categories": [c for c in CATEGORIES if data[mode_field(c)] == DIGEST],
            "digest_time": data["digest_time"],
            "time_zone": data["time_zone"],
            "language": data["language"],
        }
        for name in ("email", "webhook"):
            if name in self.fields:
                changes[name] = bool(data[name])
        return changes
