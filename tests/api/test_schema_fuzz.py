"""Schemathesis over the whole OpenAPI schema (``/api/schema/``): no input, valid or not, makes
the API answer with a server error, for an admin and for a rep.

Every operation gets ``EXAMPLES`` generated requests per role and per generation mode
(positive: inputs the schema allows; negative: inputs it does not), against the Django WSGI
application, inside the test's database. ``HIGHSEAS_FUZZ_EXAMPLES`` raises the count for a
longer run. The number of requests sent is printed (run pytest with ``-s`` to see it).
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import schemathesis
from django.core.signals import got_request_exception, request_finished, request_started
from django.db import close_old_connections
from django.test import Client
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from highseas.accounts.models import Role, User
from highseas.config.wsgi import application
from highseas.customers.models import Customer
from highseas.pools.models import Pool

EXAMPLES = int(os.environ.get("HIGHSEAS_FUZZ_EXAMPLES", "10"))
# Signing in is throttled per address and covered by tests of its own.
SKIPPED = {("POST", "/api/v1/auth/token/")}


def _token(user: User) -> str:
    answer = Client().post(
        "/api/v1/auth/token/",
        json.dumps({"username": user.username, "password": "pw-" + user.username}),
        content_type="application/json",
    )
    assert answer.status_code == 200, answer.content
    token: str = answer.json()["token"]
    return token


def _keep_connection() -> None:
    """As Django's test client does: the WSGI handler must not close the test's connection."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)


class Session:
    """The fuzzer's signed-in users. An operation may sign one out on purpose (revoking a
    device, deactivating a user, changing a role or a password revokes tokens): the account is
    then restored and signed in again, and the request sent once more."""

    def __init__(self, users: dict[str, User]) -> None:
        self.users = users
        self.saved = {name: (u.role, u.team_id) for name, u in users.items()}
        self.tokens = {name: self.sign_in(name) for name in users}
        self.errors: list[str] = []

    def note_error(self, sender: object, request: object = None, **kwargs: Any) -> None:
        self.errors.append("".join(traceback.format_exception(sys.exc_info()[1]))[-1500:])

    def sign_in(self, name: str) -> str:
        user = self.users[name]
        role, team_id = self.saved[name]
        User.objects.filter(pk=user.pk).update(is_active=True, role=role, team_id=team_id)
        user.refresh_from_db()
        user.set_password("pw-" + user.username)
        user.save(update_fields=["password"])
        token = _token(user)
        _keep_connection()  # Django's test client reconnects the handlers it took off
        return token

    def send(self, case: schemathesis.Case, name: str) -> Any:
        response = case.call(headers={"Authorization": f"Token {self.tokens[name]}"})
        if response.status_code == 401:
            self.tokens[name] = self.sign_in(name)
            response = case.call(headers={"Authorization": f"Token {self.tokens[name]}"})
        return response


@pytest.fixture
def session(
    org: dict[str, Any],
    make_customer: Callable[..., Customer],
) -> Iterator[Session]:
    admin, rep = org["admin"], org["rep_a"]
    pool: Pool = org["east_pool"]
    make_customer(admin, owner=rep)
    make_customer(admin, pool=pool)
    make_customer(admin, owner=org["rep_c"])
    signed_in = Session({Role.ADMIN: admin, Role.REP: rep})
    _keep_connection()
    got_request_exception.connect(signed_in.note_error)
    yield signed_in
    got_request_exception.disconnect(signed_in.note_error)
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


def _operations() -> list[Any]:
    schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", application)
    operations = []
    for result in schema.get_all_operations():
        operation = result.ok()
        if (operation.method.upper(), operation.path) not in SKIPPED:
            operations.append(operation)
    return operations


def _fuzz(
    operation: Any, mode: GenerationMode, session: Session, role: str, sent: list[str]
) -> None:
    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def send(case: schemathesis.Case) -> None:
        response = session.send(case, role)
        sent.append(f"{case.method} {case.formatted_path}")
        assert response.status_code < 500, (
            f"{case.method} {case.formatted_path} {case.query} {case.body!r} → "
            f"{response.status_code}\n{session.errors[-1] if session.errors else ''}"
        )

    send()


@pytest.mark.django_db(transaction=False)
@pytest.mark.parametrize("role", [Role.ADMIN, Role.REP])
def test_no_input_makes_the_api_answer_a_server_error(session: Session, role: str) -> None:
    sent: list[str] = []
    failures: list[str] = []
    for operation in _operations():
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            try:
                _fuzz(operation, mode, session, role, sent)
            except AssertionError as error:
                failures.append(str(error).split("\nassert")[0])
            except Unsatisfiable:
                pass  # nothing invalid to send (an operation without parameters)
    print(f"\nschema fuzz as {role}: {len(sent)} requests")
    assert not failures, "\n".join(failures)
