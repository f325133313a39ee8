"""Edit forms of a customer and of a contact: they check shapes, the services check rules.

The customer form offers exactly the fields the viewer may change (``pools.editing``): never
an ownership field, and the level and the stage only to managers and admins.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.forms.models import fields_for_model
from django.utils.translation import gettext_lazy as _

from highseas.accounts.visibility import Viewer
from highseas.customers.choices import CustomerKind, RevenueBand
from highseas.customers.models import Contact, Customer
from highseas.pools.editing import EDITABLE_FIELDS, may_change
from highseas.web.forms import DateInput
from highseas.web.region_fields import use_region_pickers

FREE_FORM = frozenset({"tags", "custom_fields"})  # edited through the API
CSRF = "csrfmiddlewaretoken"


def offered_fields(viewer: Viewer, customer: Customer) -> list[str]:
    """The fields the viewer may change and sees unmasked."""
    masked = viewer.masked_fields(customer)
    return [
        name
        for name in EDITABLE_FIELDS
        if name not in FREE_FORM and name not in masked and may_change(viewer, name)
    ]


class CustomerEditForm(forms.Form):
    def __init__(self, data: Any, *, viewer: Viewer, customer: Customer) -> None:
        offered = offered_fields(viewer, customer)
        super().__init__(data, initial={n: getattr(customer, n) for n in offered})
        self.fields.update(fields_for_model(Customer, fields=offered))
        self.fields["kind"].choices = CustomerKind.choices  # type: ignore[attr-defined]
        self.fields["revenue_band"].choices = [("", "—"), *RevenueBand.choices]  # type: ignore[attr-defined]
        use_region_pickers(self, customer.province)

    def changes(self, posted: Any) -> dict[str, Any]:
        """The offered fields as cleaned, and any other field the post carries, as sent: the
        service refuses what the viewer may not change (a forged ``owner`` or ``level``)."""
        others = {
            name: posted.get(name) for name in posted if name != CSRF and name not in self.fields
        }
        return {**others, **self.cleaned_data}


class ContactEditForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100)
    title = forms.CharField(label=_("Title"), required=False, max_length=100)
    phones = forms.CharField(
        label=_("Phones"),
        required=False,
        max_length=400,
        help_text=_("Several numbers: one per line, or separated by commas."),
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    email = forms.EmailField(label=_("E-mail"), required=False)
    wechat = forms.CharField(label=_("WeChat"), required=False, max_length=100)
    birthday = forms.DateField(label=_("Birthday"), required=False, widget=DateInput())
    is_primary = forms.BooleanField(label=_("Primary contact"), required=False)
    do_not_contact = forms.BooleanField(label=_("Do not contact"), required=False)

    @classmethod
    def of(cls, data: Any, contact: Contact, offered: tuple[str, ...]) -> ContactEditForm:
        """The form of the fields ``offered`` (``pools.contact_edits.editable_fields``)."""
        initial = {name: getattr(contact, name) for name in cls.base_fields if name in offered}
        if "phones" in offered:
            initial["phones"] = "\n".join(contact.phones or [])
        form = cls(data, initial=initial)
        for name in [n for n in form.fields if n not in offered]:
            del form.fields[name]
        return form

    def clean_phones(self) -> list[str]:  # one per line or comma-separated
        text = str(self.cleaned_data.get("phones") or "")
        return [
            part.strip()
            for part in text.replace("，", ",").replace(",", "\n").split("\n")
            if part.strip()
        ]

    def changes(self, posted: Any) -> dict[str, Any]:
        others = {
            name: posted.get(name) for name in posted if name != CSRF and name not in self.fields
        }
        return {**others, **self.cleaned_data}
