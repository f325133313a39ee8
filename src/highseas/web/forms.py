"""Input forms of the pages: they check shapes, the services check rules."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from highseas.accounts.models import User
from highseas.customers.choices import (
    ActivityKind,
    CustomerKind,
    CustomerLevel,
    CustomerStage,
    DealStage,
    RevenueBand,
    Source,
)
from highseas.customers.models import Customer
from highseas.pools.models import Pool
from highseas.web.region_fields import use_region_pickers

LOCAL_MINUTE = "%Y-%m-%dT%H:%M"
ANY = [("", _("All"))]


class LocalDateTimeField(forms.DateTimeField):
    """A ``datetime-local`` input, read in the organization's time zone."""

    widget = forms.DateTimeInput(attrs={"type": "datetime-local"}, format=LOCAL_MINUTE)
    input_formats = [LOCAL_MINUTE, "%Y-%m-%d %H:%M", "%Y-%m-%d"]


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self) -> None:
        super().__init__(format="%Y-%m-%d")


class PoolFilterForm(forms.Form):
    STATUS_CHOICES = [
        ("pooled", _("In pool")),
        ("owned", _("Owned")),
        ("frozen", _("Frozen")),
        ("all", _("All")),
    ]

    pool = forms.TypedChoiceField(label=_("Pool"), coerce=int, required=False, empty_value=None)
    q = forms.CharField(label=_("Name"), required=False, max_length=100)
    province = forms.CharField(label=_("Province"), required=False, max_length=20)
    city = forms.CharField(label=_("City"), required=False, max_length=30)
    industry = forms.CharField(label=_("Industry"), required=False, max_length=50)
    level = forms.ChoiceField(label=_("Level"), choices=ANY + CustomerLevel.choices, required=False)
    source = forms.ChoiceField(label=_("Source"), choices=ANY + Source.choices, required=False)
    stage = forms.ChoiceField(label=_("Stage"), choices=ANY + CustomerStage.choices, required=False)
    status = forms.ChoiceField(label=_("Status"), choices=STATUS_CHOICES, required=False)
    after = forms.IntegerField(required=False, min_value=1)
    before = forms.IntegerField(required=False, min_value=1)

    def __init__(self, data: Any, pools: list[Pool]) -> None:
        super().__init__(data)
        self.fields["pool"].choices = [(p.pk, p.name) for p in pools]  # type: ignore[attr-defined]

    def narrowing(self) -> dict[str, Any]:
        """Field filters on the customer table for the chosen values (the name: ``match``)."""
        data = self.cleaned_data
        found = {
            name: data[name]
            for name in ("province", "city", "industry", "level", "source", "stage")
            if data.get(name)
        }
        status = data.get("status") or "pooled"
        if status != "all":
            found["status"] = status
        return found


class ActivityForm(forms.Form):
    kind = forms.ChoiceField(
        label=_("Kind"), choices=ActivityKind.choices, initial="call", widget=forms.RadioSelect
    )
    note = forms.CharField(
        label=_("Note"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=4000,
    )
    outcome = forms.CharField(label=_("Outcome"), required=False, max_length=200)
    occurred_at = LocalDateTimeField(label=_("When"), required=False)
    next_contact_at = LocalDateTimeField(label=_("Next contact"), required=False)


class ContactForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100)
    title = forms.CharField(label=_("Title"), required=False, max_length=100)
    phone = forms.CharField(label=_("Phone"), required=False, max_length=40)
    email = forms.EmailField(label=_("E-mail"), required=False)
    wechat = forms.CharField(label=_("WeChat"), required=False, max_length=100)
    birthday = forms.DateField(label=_("Birthday"), required=False, widget=DateInput())
    is_primary = forms.BooleanField(label=_("Primary contact"), required=False)

    def service_fields(self) -> dict[str, Any]:
        data = dict(self.cleaned_data)
        phone = data.pop("phone")
        return {**data, "phones": [phone] if phone else []}


OPEN_STAGES = [
    (DealStage.QUALIFICATION.value, DealStage.QUALIFICATION.label),
    (DealStage.PROPOSAL.value, DealStage.PROPOSAL.label),
    (DealStage.NEGOTIATION.value, DealStage.NEGOTIATION.label),
]


class DealForm(forms.Form):
    name = forms.CharField(label=_("Deal name"), required=False, max_length=200)
    amount = forms.DecimalField(label=_("Amount (¥)"), min_value=0, max_digits=14, decimal_places=2)
    stage = forms.ChoiceField(label=_("Stage"), choices=OPEN_STAGES)
    expected_close = forms.DateField(label=_("Expected close"), required=False, widget=DateInput())


class CloseDealForm(forms.Form):
    stage = forms.ChoiceField(
        choices=[
            (DealStage.WON.value, DealStage.WON.label),
            (DealStage.LOST.value, DealStage.LOST.label),
        ]
    )
    lost_reason = forms.CharField(label=_("Why lost"), required=False, max_length=200)


class ReleaseForm(forms.Form):
    reason = forms.CharField(
        label=_("Why release it"),
        max_length=300,
        error_messages={"required": _("Say why you release the customer.")},
    )


class FreezeForm(forms.Form):
    until = LocalDateTimeField(label=_("Frozen until"))
    reason = forms.CharField(label=_("Reason"), required=False, max_length=300)


class UnfreezeForm(forms.Form):
    reason = forms.CharField(label=_("Reason"), required=False, max_length=300)


class ReceiverField(forms.ModelChoiceField):  # type: ignore[type-arg]
    def label_from_instance(self, obj: Any) -> str:
        team = f" · {obj.team.name}" if obj.team else ""
        holdings = getattr(obj, "holdings", None)
        held = _(" (holds %(n)s)") % {"n": holdings} if holdings is not None else ""
        return f"{obj.label}{team}{held}"


class GiveForm(forms.Form):
    owner = ReceiverField(label=_("Give to"), queryset=User.objects.none())
    reason = forms.CharField(label=_("Reason"), required=False, max_length=300)

    def __init__(self, data: Any, receivers: Any, *, unresolved: str = "") -> None:
        """``unresolved``: why the rep picker's typed words named nobody (no JavaScript)."""
        super().__init__(data)
        self.fields["owner"].queryset = receivers  # type: ignore[attr-defined]
        self.fields["owner"].required = not unresolved  # the picker's refusal says it instead
        self.unresolved = unresolved

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if self.unresolved:
            self.add_error("owner", self.unresolved)
        return data


class BulkForm(forms.Form):
    ACTIONS = [
        ("give", _("Assign / transfer to")),
        ("freeze", _("Freeze until")),
        ("unfreeze", _("Unfreeze")),
    ]

    ids = forms.TypedMultipleChoiceField(coerce=int)
    action = forms.ChoiceField(choices=ACTIONS)
    owner = ReceiverField(label=_("Rep"), queryset=User.objects.none(), required=False)
    until = LocalDateTimeField(label=_("Frozen until"), required=False)
    reason = forms.CharField(label=_("Reason"), required=False, max_length=300)

    def __init__(self, data: Any, receivers: Any) -> None:
        super().__init__(data)
        self.fields["owner"].queryset = receivers  # type: ignore[attr-defined]
        ids = data.getlist("ids") if hasattr(data, "getlist") else []
        self.fields["ids"].choices = [(i, i) for i in ids]  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("action") == "give" and not data.get("owner"):
            self.add_error("owner", _("Choose who receives the customers."))
        if data.get("action") == "freeze" and not data.get("until"):
            self.add_error("until", _("Choose until when."))
        return data


class CustomerForm(forms.ModelForm):  # type: ignore[type-arg]
    pool = forms.ModelChoiceField(label=_("Pool"), queryset=Pool.objects.none(), required=False)
    owner = ReceiverField(label=_("Owner"), queryset=User.objects.none(), required=False)

    class Meta:
        model = Customer
        fields = [
            "name",
            "kind",
            "phone",
            "email",
            "credit_code",
            "industry",
            "province",
            "city",
            "address",
            "employees",
            "revenue_band",
            "source",
            "campaign",
            "level",
        ]

    def __init__(self, data: Any, *, pools: Any, receivers: Any | None) -> None:
        super().__init__(data)
        self.fields["pool"].queryset = pools  # type: ignore[attr-defined]
        self.fields["kind"].choices = CustomerKind.choices  # type: ignore[attr-defined]
        self.fields["revenue_band"].choices = [("", "—"), *RevenueBand.choices]  # type: ignore[attr-defined]
        use_region_pickers(self)
        if receivers is None:
            del self.fields["owner"]
        else:
            self.fields["owner"].queryset = receivers  # type: ignore[attr-defined]

    def service_fields(self) -> dict[str, Any]:
        return {name: self.cleaned_data[name] for name in self.Meta.fields}


class DecisionForm(forms.Form):
    note = forms.CharField(label=_("Note"), required=False, max_length=300)


class SweepPreviewForm(forms.Form):
    pool = forms.TypedChoiceField(label=_("Pool"), coerce=int, required=False, empty_value=None)
    owner = ReceiverField(label=_("Rep"), queryset=User.objects.none(), required=False)
    at = LocalDateTimeField(label=_("As of"), required=False)

    def __init__(self, data: Any, *, pools: list[Pool], owners: Any) -> None:
        """``owners``: whom the viewer may pick (``pools.receivers``), checked, not listed:
        the page's rep picker lists them."""
        super().__init__(data)
        self.fields["pool"].choices = [("", _("All my pools"))] + [  # type: ignore[attr-defined]
            (p.pk, p.name) for p in pools
        ]
        self.fields["owner"].queryset = owners  # type: ignore[attr-defined]
