"""Model fields for personal data stored encrypted (``customers.crypto``).

Python code reads and writes plaintext; ``get_db_prep_save`` encrypts every non-empty value
(even one that looks like a token) under the current key, ``from_db_value`` decrypts. Bulk
writers (``demo.writer``, ``bench.dataset``) encrypt through ``get_db_prep_save`` too, which
the ``encrypted`` class attribute tells them. An encrypted column takes no lookup by value:
equal plaintexts are different ciphertexts; look a value up by its blind index.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import FieldError
from django.db import models
from django.db.models.expressions import Expression
from django.db.models.lookups import Exact, IsNull

from highseas.customers.crypto import decrypt, decrypt_json, encrypt, encrypt_json, is_token


class OnlyEmptyExact(Exact):  # type: ignore[type-arg]
    """An encrypted column can be compared with the empty string only: equal plaintexts
    are different ciphertexts. Look a value up by its blind index."""

    def get_prep_lookup(self) -> Any:
        if self.rhs not in ("", None) and not hasattr(self.rhs, "resolve_expression"):
            raise FieldError(
                f"{self.lhs.output_field.name} is encrypted: look it up by its blind index"
            )
        return super().get_prep_lookup()


class EncryptedMixin:
    """Text stored as a token; Python code reads and writes plaintext."""

    encrypted = True  # bulk writers (``demo.writer``) encrypt through ``get_db_prep_save``

    def get_internal_type(self) -> str:
        return "TextField"

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> Any:
        return decrypt(value) if is_token(value) else value

    def get_db_prep_save(self, value: Any, connection: Any) -> Any:
        if isinstance(value, Expression):
            return super().get_db_prep_save(value, connection)  # type: ignore[misc]
        prepared = super().get_db_prep_save(value, connection)  # type: ignore[misc]
        if isinstance(prepared, str) and prepared:  # even one that looks like a token
            return encrypt(prepared)
        return prepared

    def get_lookup(self, lookup_name: str) -> Any:
        if lookup_name == "exact":
            return OnlyEmptyExact
        if lookup_name == "isnull":
            return IsNull
        return None


class EncryptedCharField(EncryptedMixin, models.CharField):  # type: ignore[type-arg]
    """A ``CharField`` (``max_length`` bounds the plaintext) stored encrypted, as text."""


class EncryptedEmailField(EncryptedMixin, models.EmailField):  # type: ignore[type-arg]
    """An ``EmailField`` stored encrypted, as text."""


class EncryptedJSONField(models.JSONField):
    """A ``JSONField`` whose value is stored as one token (a JSON string); an empty list or
    object stays as it is."""

    encrypted = True

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> Any:
        return decrypt_json(super().from_db_value(value, expression, connection))

    def get_db_prep_save(self, value: Any, connection: Any) -> Any:
        if value is None or isinstance(value, Expression) or value in ([], {}):
            return super().get_db_prep_save(value, connection)
        return super().get_db_prep_save(encrypt_json(value), connection)

    def get_lookup(self, lookup_name: str) -> Any:
        return IsNull if lookup_name == "isnull" else None

    def get_transform(self, lookup_name: str) -> Any:
        return None
