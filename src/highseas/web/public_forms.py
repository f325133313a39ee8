"""The 公共检索 search box and its settings form: shapes only; the services decide."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _

from highseas.customers.models import Customer
from highseas.customers.public import (
    SCOPE_LABELS,
    STATUS_LABELS,
    PublicSettings,
    allowed_fields,
)


def field_label(name: str) -> str:
    return capfirst(str(getattr(Customer._meta.get_field(name), "verbose_name", name)))


class PublicSearchForm(forms.Form):
    q = forms.CharField(label=_("Name, phone, e-mail or credit code"), max_length=100)
    before = forms.IntegerField(required=False, min_value=1)


class PublicSettingsForm(forms.Form):
    public_fields = forms.MultipleChoiceField(
        label=_("Fields shown"), widget=forms.CheckboxSelectMultiple
    )
    scope = forms.ChoiceField(label=_("Scope"), widget=forms.RadioSelect)
    statuses = forms.MultipleChoiceField(
        label=_("Statuses listed"), widget=forms.CheckboxSelectMultiple
    )

    def __init__(self, data: Any, *, current: PublicSettings) -> None:
        initial = {
            "public_fields": list(current.fields),
            "scope": current.scope,
            "statuses": [s.value for s in current.statuses],
        }
        super().__init__(data, initial=initial)
        self.fields["public_fields"].choices = [(n, field_label(n)) for n in allowed_fields()]  # type: ignore[attr-defined]
        self.fields["scope"].choices = list(SCOPE_LABELS.items())  # type: ignore[attr-defined]
        self.fields["statuses"].choices = [  # type: ignore[attr-defined]
            (s.value, label) for s, label in STATUS_LABELS.items()
        ]
