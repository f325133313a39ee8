from __future__ import annotations

from django.utils.translation import gettext as _
from rest_framework.exceptions import NotFound
from rest_framework.pagination import Cursor, CursorPagination
from rest_framework.request import Request

from highseas.engine.bounds import parse_id
from highseas.engine.errors import ErrorCode, HighSeasError


def _bad_cursor() -> HighSeasError:
    return HighSeasError(
        ErrorCode.VALIDATION_ERROR,
        _("Use the cursor of a previous page's next or previous link."),
        errors={"cursor": ["invalid"]},
    )


class KeysetPagination(CursorPagination):
    """Keyset (cursor) pagination on ``-id``: constant cost on page 1 and page 10,000.

    A cursor the API did not hand out (not decodable, a negative offset, a position that is
    no id) is a ``validation_error`` naming ``cursor``."""

    ordering = "-id"
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500

    def decode_cursor(self, request: Request) -> Cursor | None:
        try:
            cursor = super().decode_cursor(request)
        except NotFound:
            raise _bad_cursor() from None
        if cursor is not None and cursor.position is not None and parse_id(cursor.position) is None:
            raise _bad_cursor()
        return cursor
