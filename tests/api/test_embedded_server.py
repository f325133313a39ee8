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
from waitress.server import create_server

from highseas.config.embedded import OneWriteChannel, embedded_server

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
