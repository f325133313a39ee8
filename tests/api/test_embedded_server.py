"""The embedded server (``config/embedded.py``) puts on the wire exactly the bytes waitress's own
server does, for every kind of answer, and sends a whole one-piece answer in one write."""

from __future__ import annotations

import re
import socket
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from django.db import connections
from django.utils import timezone
from waitress.server import create_server

from highseas.accounts.models import ApiToken, User
from highseas.accounts.tokens import issue_token
from highseas.config import wsgi
from highseas.config.embedded import OneWriteChannel, embedded_server
from highseas.customers.models import Customer

App = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
CLAIMED = b'{"id":7,"name":"\xe5\x85\xac\xe6\xb5\xb7","status":"owned","owner":3}'
REFUSED = b'{"code":"already_owned","detail":"Someone else owns this customer.","holder":4}'


def answering(path: str) -> tuple[str, list[tuple[str, str]], list[bytes]]:
    """Status, headers and body pieces of each kind of answer the test app gives."""
    json_type = ("Content-Type", "application/json")
    if path == "/claimed":
        return "200 OK", [json_type, ("Content-Length", str(len(CLAIMED)))], [CLAIMED]
    if path == "/refused":
        headers = [json_type, ("Content-Length", str(len(REFUSED))), ("Vary", "Accept-Language")]
        return "409 Conflict", headers, [REFUSED]
    if path == "/pieces":
        return "200 OK", [("Content-Length", "6")], [b"abc", b"def"]
    if path == "/unmeasured":
        return "200 OK", [json_type], [CLAIMED]
    if path == "/streamed":
        return "200 OK", [json_type], [b"[1,", b"2,", b"3]"]
    if path == "/empty":
        return "204 No Content", [], []
    if path == "/short":
        return "200 OK", [("Content-Length", "10")], [b"abc"]
    return "404 Not Found", [("Content-Length", "9")], [b"not found"]


def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterator[bytes]:
    status, headers, pieces = answering(environ["PATH_INFO"])
    start_response(status, headers)
    yield from pieces


@contextmanager
def running(make: Callable[..., Any]) -> Iterator[Any]:
    server = make(app, host="127.0.0.1", port=0, threads=2, ident="HighSeas")
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.close()
        thread.join(10)


def exchange(port: int, requests: list[bytes]) -> bytes:
    """Every byte the server sends back for ``requests`` on one connection, the last of which
    closes it."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"".join(requests))
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    return received


def request(path: str, *, method: str = "POST", version: str = "1.1", close: bool = False) -> bytes:
    headers = f"{method} {path} HTTP/{version}\r\nHost: 127.0.0.1\r\nContent-Length: 2\r\n"
    if close:
        headers += "Connection: close\r\n"
    elif version == "1.0":
        headers += "Connection: keep-alive\r\n"
    return f"{headers}\r\n{{}}".encode("ascii")


def undated(wire: bytes) -> bytes:
    return re.sub(rb"\r\nDate: [^\r]*", b"", wire)


PATHS = ["/claimed", "/refused", "/pieces", "/unmeasured", "/streamed", "/empty", "/missing"]
CONVERSATIONS = {
    "kept alive, then closed": [
        *(request(path) for path in PATHS),
        request("/claimed", close=True),
    ],
    "HTTP/1.0 kept alive": [
        *(request(path, version="1.0") for path in ("/claimed", "/refused")),
        request("/claimed", version="1.0", close=True),
    ],
    "HEAD": [request("/claimed", method="HEAD"), request("/refused", close=True)],
    "body shorter than its length": [request("/short", close=True)],
}


@pytest.mark.parametrize("requests", CONVERSATIONS.values(), ids=CONVERSATIONS.keys())
def test_the_wire_bytes_are_waitress_own(requests: list[bytes]) -> None:
    with running(create_server) as stock, running(embedded_server) as embedded:
        expected = exchange(stock.effective_port, requests)
        got = exchange(embedded.effective_port, requests)
    assert b"HTTP/1." in expected
    assert undated(got) == undated(expected)


class RecordingChannel(OneWriteChannel):
    writes: list[bytes] = []

    def write_soon(self, data: Any) -> int:
        RecordingChannel.writes.append(bytes(data))
        return int(super().write_soon(data))


@pytest.mark.parametrize("path", ["/claimed", "/refused"])
def test_a_whole_answer_goes_out_in_one_write(path: str) -> None:
    RecordingChannel.writes = []
    with running(embedded_server) as embedded:
        embedded.channel_class = RecordingChannel
        wire = exchange(embedded.effective_port, [request(path, close=True)])
    assert RecordingChannel.writes == [wire]
    assert wire.endswith(answering(path)[2][0])


def test_an_answer_in_pieces_is_written_piece_by_piece() -> None:
    RecordingChannel.writes = []
    with running(embedded_server) as embedded:
        embedded.channel_class = RecordingChannel
        wire = exchange(embedded.effective_port, [request("/pieces", close=True)])
    assert RecordingChannel.writes[1:] == [b"abc", b"def"]
    assert b"".join(RecordingChannel.writes) == wire


def _token(user: User) -> str:
    row, secret = issue_token(user, device="tests", audited=False)
    ApiToken.objects.filter(pk=row.pk).update(last_used=timezone.now())  # no last-use write
    return secret


def _api_call(method: str, path: str, token: str, *, close: bool = False) -> bytes:
    body = b"{}" if method == "POST" else b""
    head = (
        f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Token {token}\r\n"
        f"Accept-Language: en\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n{'Connection: close' + chr(13) + chr(10) if close else ''}"
    )
    return f"{head}\r\n".encode("ascii") + body


def _claim(customer: Customer, token: str, *, close: bool = False) -> bytes:
    return _api_call("POST", f"/api/v1/customers/{customer.pk}/claim/", token, close=close)


@contextmanager
def serving_highseas(make: Callable[..., Any]) -> Iterator[Any]:
    server = make(wsgi.application, host="127.0.0.1", port=0, threads=1, ident="HighSeas")
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.close()
        thread.join(10)


@pytest.mark.django_db(transaction=True)
def test_the_application_answers_the_same_bytes_through_both_servers(
    org: dict[str, Any], make_customer: Callable[..., Customer], monkeypatch: Any
) -> None:
    """A claim's refusal and a read, kept alive then closed, byte for byte (but the date); the
    claim itself the same status and headers."""
    # The servers' threads close their connections after each request, so none outlives them.
    monkeypatch.setitem(connections.databases["default"], "CONN_MAX_AGE", 0)
    first, second = (make_customer(org["admin"], pool=org["east_pool"]) for _ in range(2))
    token_a, token_b = _token(org["rep_a"]), _token(org["rep_b"])
    refused_then_read = [
        _claim(first, token_b),
        _api_call("GET", "/api/v1/me/", token_a, close=True),
    ]
    with serving_highseas(create_server) as stock, serving_highseas(embedded_server) as ours:
        stock_won = exchange(stock.effective_port, [_claim(first, token_a, close=True)])
        stock_same = exchange(stock.effective_port, refused_then_read)
        our_same = exchange(ours.effective_port, refused_then_read)
        our_won = exchange(ours.effective_port, [_claim(second, token_a, close=True)])
    assert stock_same.startswith(b"HTTP/1.1 409 ") and b"HTTP/1.1 200 " in stock_same
    assert undated(our_same) == undated(stock_same)
    assert stock_won.startswith(b"HTTP/1.1 200 ") and our_won.startswith(b"HTTP/1.1 200 ")
    assert _head_names(our_won) == _head_names(stock_won)
    assert Customer.objects.get(pk=second.pk).owner_id == org["rep_a"].pk


def _head_names(wire: bytes) -> list[bytes]:
    head = wire.partition(b"\r\n\r\n")[0].split(b"\r\n")
    return [head[0], *(line.partition(b":")[0] for line in head[1:])]
