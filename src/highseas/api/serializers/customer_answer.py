"""The customer as an ownership action answers it: ``CustomerSerializer``'s shape (SPEC §10),
built without building the serializer.

DRF builds a ``ModelSerializer``'s fields anew for every instance it serializes (about 40
fields, deep-copied and introspected from the model), which cost more than the claim itself.
Here the serializer's bound fields are built once per process and each model field renders
the value exactly as it does inside the serializer (``get_attribute``, then
``to_representation``); the serializer's method fields, which read the viewer, are computed
here from the same viewer, then the viewer masks the result as the serializer does. A method
field this module does not know sends the whole answer through the serializer instead.
``tests/api/test_customer_answer.py`` holds it to the serializer field by field.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

from rest_framework.fields import Field, SerializerMethodField, SkipField
from rest_framework.relations import PKOnlyObject

from highseas.accounts.visibility import Viewer
from highseas.api.serializers.customers import CustomerSerializer
from highseas.customers.models import Customer

MethodField = Callable[[Viewer, Customer], Any]
METHOD_FIELDS: dict[str, MethodField] = {
    "get_owner_name": lambda viewer, c: c.owner.label if c.owner else None,
    "get_pool_name": lambda viewer, c: c.pool.name if c.pool else None,
    "get_masked_fields": lambda viewer, c: sorted(viewer.masked_fields(c)),
}


@cache
def _fields() -> tuple[tuple[str, Field[Any, Any, Any, Any] | None, MethodField | None], ...]:
    """Each readable field of the serializer: its name, and the bound field that renders it
    or the function that computes it; empty when a method field is unknown here."""
    found: list[tuple[str, Field[Any, Any, Any, Any] | None, MethodField | None]] = []
    for field in CustomerSerializer(context={})._readable_fields:
        if isinstance(field, SerializerMethodField):
            method = METHOD_FIELDS.get(str(field.method_name))
            if method is None:
                return ()
            found.append((str(field.field_name), None, method))
        else:
            found.append((str(field.field_name), field, None))
    return tuple(found)


def customer_answer(viewer: Viewer, customer: Customer) -> dict[str, Any]:
    """``CustomerSerializer(customer, context={"viewer": viewer}).data``, as a plain dict."""
    fields = _fields()
    if not fields:
        return dict(CustomerSerializer(customer, context={"viewer": viewer}).data)
    body: dict[str, Any] = {}
    for name, field, method in fields:
        if method is not None:
            body[name] = method(viewer, customer)
            continue
        assert field is not None
        try:
            value = field.get_attribute(customer)
        except SkipField:
            continue
        present = value.pk if isinstance(value, PKOnlyObject) else value
        body[name] = None if present is None else field.to_representation(value)
    return viewer.mask(customer, body)
