"""The departure handover form: where a rep's customers go, and when."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from highseas.accounts.models import User
from highseas.web.forms import LocalDateTimeField, ReceiverField


class DepartureForm(forms.Form):
    DESTINATIONS = [
        ("user", _("One named colleague")),
        ("rules", _("The assignment rules")),
        ("pools", _("Back to their pools")),
    ]
    MOMENTS = [("now", _("Run now")), ("at", _("At a date"))]

    to = forms.ChoiceField(
        label=_("Where the customers go"),
        choices=DESTINATIONS,
        initial="user",
        widget=forms.RadioSelect,
    )
    receiver = ReceiverField(
        label=_("Colleague"), queryset=User.objects.none(), required=False, empty_label="—"
    )
    when = forms.ChoiceField(
        label=_("When it runs"),
        choices=MOMENTS,
        initial="now",
        required=False,
        widget=forms.RadioSelect,
    )
    at = LocalDateTimeField(label=_("Run at"), required=False)

    def __init__(self, data: Any, *, receivers: Any) -> None:
        super().__init__(data)
        self.fields["receiver"].queryset = receivers  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("to") == "user" and not data.get("receiver"):
            self.add_error("receiver", _("Choose the colleague who receives the customers."))
        if data.get("when") == "at" and not data.get("at"):
            self.add_error("at", _("Choose when the handover runs."))
        return data

    def target(self) -> int | str:
        data = self.cleaned_data
        return int(data["receiver"].pk) if data["to"] == "user" else str(data["to"])

    def is_later(self) -> bool:
        return self.cleaned_data.get("when") == "at"
