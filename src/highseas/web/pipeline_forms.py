"""Forms of the deal pipeline board: shapes only; the services decide."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from highseas.accounts.models import User
from highseas.customers.choices import DealStage
from highseas.web.forms import DateInput

CSRF_AND_NEXT = frozenset({"csrfmiddlewaretoken", "next"})


class OwnerFilterForm(forms.Form):
    owner = forms.TypedChoiceField(label=_("Rep"), coerce=int, required=False, empty_value=None)

    def __init__(self, data: Any, *, owners: list[User]) -> None:
        super().__init__(data)
        self.fields["owner"].choices = [("", _("Everyone"))] + [  # type: ignore[attr-defined]
            (u.pk, u.label) for u in owners
        ]


class DealMoveForm(forms.Form):
    stage = forms.ChoiceField(label=_("Stage"), choices=DealStage.choices)
    lost_reason = forms.CharField(label=_("Why lost"), required=False, max_length=200)


class DealEditForm(forms.Form):
    name = forms.CharField(label=_("Deal name"), required=False, max_length=200)
    amount = forms.DecimalField(label=_("Amount (¥)"), min_value=0, max_digits=14, decimal_places=2)
    expected_close = forms.DateField(label=_("Expected close"), required=False, widget=DateInput())

    def changes(self, posted: Any) -> dict[str, Any]:
        """The fields as cleaned, and any other field the post carries, as sent: the service
        refuses what is not a deal's editable field (a forged ``stage`` or ``customer``)."""
        others = {
            name: posted.get(name)
            for name in posted
            if name not in CSRF_AND_NEXT and name not in self.fields
        }
        return {**others, **self.cleaned_data}
