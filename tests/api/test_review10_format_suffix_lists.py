"""Review: a collection route served with a format suffix (``tasks.json``,
``assignment-runs.json``) answers as its plain path does, in the API's error shape when
refused, never a server error. FAILS: ``api.routers.by_prefix`` hands the suffix over as a
query parameter (``format_as_query``) only on the routes it groups under a prefix; a
collection's suffixed route (``^tasks\\.(?P<format>…)``) stays in the ungrouped rest, and a
``create(self, request)`` that takes no ``format`` argument raises ``TypeError``: a 500 page."""

from __future__ import annotations

import json
from typing import Any

import pytest

from highseas.accounts import tokens
from highseas.config import wsgi
from tests.api.test_token_lane import served
from tests.wsgi import environ

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize("app", [wsgi.application, wsgi.application_for_everything])
@pytest.mark.parametrize("collection", ["tasks", "assignment-runs"])
def test_a_collection_with_a_format_suffix_answers_as_its_plain_path(
    org: dict[str, Any], app: Any, collection: str
) -> None:
    _token, secret = tokens.issue_token(org["admin"], device="t", audited=False)
    answers = []
    for path in (f"{collection}/", f"{collection}.json"):
        request = environ("POST", f"/api/v1/{path}", "", b'{"dry_run": true}')
        request["HTTP_AUTHORIZATION"] = f"Token {secret}"
        status, headers, body = served(app, request)
        assert status < 500, (path, body[:200])
        assert headers.get("Content-Type", "").startswith("application/json"), headers
        answer = json.loads(body)
        answers.append((status, answer.get("code") if status >= 400 else None))
        assert status < 400 or {"code", "detail"} <= set(answer)
    assert answers[0] == answers[1]
