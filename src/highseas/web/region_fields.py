"""Province and city pickers: the province from the official list, the city typed or picked
from the province's cities (``customers.regions``); the services store one spelling. In
English the provinces and the city suggestions read by their English names; a province's
value stays its Chinese name, and a city picked in English is read back as its division."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from highseas.customers.regions import divisions, label, normalize_province

CITY_LIST = "city-options"


def use_region_pickers(form: forms.BaseForm, current_province: str = "") -> None:
    """Turn ``form``'s ``province`` into a select of the official provinces (keeping a stored
    value that is none of them) and give its ``city`` the suggestions of the page's list."""
    if "province" not in form.fields:
        return
    names = list(divisions())
    current = normalize_province(current_province)
    if current and current not in names:
        names.append(current)
    form.fields["province"] = forms.ChoiceField(
        label=_("Province"),
        required=False,
        choices=[("", "—"), *((name, label(name)) for name in names)],
        widget=forms.Select(attrs={"data-province": ""}),
    )
    if "city" in form.fields:
        form.fields["city"].widget.attrs.update({"list": CITY_LIST, "autocomplete": "off"})


def region_options() -> dict[str, Any]:
    """The cities of every province (by the province's value), named in the active language,
    for the page's city suggestions."""
    return {province: [label(city) for city in cities] for province, cities in divisions().items()}
