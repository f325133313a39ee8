"""What PostgreSQL holds prepared for this test's connection."""

from __future__ import annotations

from django.db import connection


def prepared_statements(like: str) -> int:
    """How many statements this connection has prepared whose text matches ``like``."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE %s", [like]
        )
        return int(cursor.fetchone()[0])
