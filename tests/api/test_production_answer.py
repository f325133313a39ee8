"""The production server's answers (``config/production.OneWriteResponse``) are gunicorn's own
bytes, and a one-piece answer goes out in one ``sendall``."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from gunicorn import util
from gunicorn.config import Config
from gunicorn.http import wsgi

from highseas.config.production import OneWriteResponse, ServerOptions
from tests.gunicorn_worker import worker

GUNICORN_RESPONSE = OneWriteResponse.__bases__[0]  # gunicorn's own, whatever a hook set since
BODY = b'{"code":"already_owned","detail":"\xe5\xb7\xb2\xe8\xa2\xab\xe9\xa2\x86\xe5\x8f\x96"}'


class Recorder:
    def __init__(self) -> None:
        self.calls: list[bytes] = []

    def sendall(self, data: bytes) -> None:
        self.calls.append(bytes(data))


class Request:
    def __init__(self, method: str, version: tuple[int, int], close: bool) -> None:
        self.method, self.version, self.close = method, version, close

    def should_close(self) -> bool:
        return self.close


@pytest.fixture(autouse=True)
def fixed_date(monkeypatch: Any) -> Iterator[None]:
    monkeypatch.setattr(util, "http_date", lambda *args: "Wed, 02 Dec 2026 21:00:00 GMT")
    yield


def answered(
    response_class: type[Any],
    status: str,
    headers: list[tuple[str, str]],
    pieces: list[bytes],
    *,
    method: str = "POST",
    version: tuple[int, int] = (1, 1),
    close: bool = False,
) -> list[bytes]:
    sock = Recorder()
    response = response_class(Request(method, version, close), sock, Config())
    response.start_response(status, headers)
    for piece in pieces:
        response.write(piece)
    response.close()
    return sock.calls


def measured(body: bytes) -> list[tuple[str, str]]:
    return [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]


ANSWERS = {
    "claimed": ("200 OK", measured(BODY), [BODY], {}),
    "refused": ("409 Conflict", [*measured(BODY), ("Vary", "Accept-Language")], [BODY], {}),
    "closing": ("200 OK", measured(BODY), [BODY], {"close": True}),
    "HTTP/1.0": ("200 OK", measured(BODY), [BODY], {"version": (1, 0)}),
    "HEAD": ("200 OK", measured(BODY), [BODY], {"method": "HEAD"}),
    "in pieces": ("200 OK", [("Content-Length", "6")], [b"abc", b"def"], {}),
    "unmeasured": ("200 OK", [("Content-Type", "application/json")], [b"[1,", b"2]"], {}),
    "longer than measured": ("200 OK", [("Content-Length", "3")], [b"abcdef"], {}),
    "no content": ("204 No Content", [], [], {}),
}


@pytest.mark.parametrize("answer", ANSWERS.values(), ids=ANSWERS.keys())
def test_the_bytes_are_gunicorn_own(answer: tuple[Any, ...]) -> None:
    status, headers, pieces, request = answer
    expected = answered(GUNICORN_RESPONSE, status, headers, pieces, **request)
    got = answered(OneWriteResponse, status, headers, pieces, **request)
    assert expected and b"".join(got) == b"".join(expected)


@pytest.mark.parametrize("name", ["claimed", "refused", "closing", "HTTP/1.0"])
def test_a_whole_answer_goes_out_in_one_call(name: str) -> None:
    status, headers, pieces, request = ANSWERS[name]
    assert len(answered(GUNICORN_RESPONSE, status, headers, pieces, **request)) == 2
    assert len(answered(OneWriteResponse, status, headers, pieces, **request)) == 1


def test_each_worker_answers_with_one_write_responses(monkeypatch: Any) -> None:
    monkeypatch.setattr(wsgi, "Response", GUNICORN_RESPONSE)  # restored after the test
    ServerOptions().gunicorn_settings()["post_worker_init"](worker())
    assert wsgi.Response is OneWriteResponse
