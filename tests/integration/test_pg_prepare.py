"""On PostgreSQL a connection prepares a statement it has run five times (server-side binding
with psycopg's prepare_threshold), so the rush paths skip the server's parse and plan."""

from __future__ import annotations

import pytest
from django.db import connection

from highseas.accounts.models import User


@pytest.mark.django_db
def test_a_statement_run_repeatedly_is_prepared_on_the_server() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("statement preparation is PostgreSQL's")
    for _ in range(7):
        list(User.objects.filter(username="nobody-prepared").values_list("pk"))
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE %s",
            ["%nobody-prepared%"],
        )
        by_text = cursor.fetchone()[0]
        cursor.execute("SELECT count(*) FROM pg_prepared_statements")
        prepared = cursor.fetchone()[0]
    assert by_text == 0  # the value is bound, not written into the statement
    assert prepared >= 1
