"""A request handed to the WSGI application as a server's thread hands it over (unlike the
test client, this keeps Django's request_started/request_finished connection care)."""

from __future__ import annotations

import io
import sys
from typing import Any


def environ(method: str, path: str, token: str, body: bytes = b"") -> dict[str, Any]:
    """The WSGI environ of one API request with ``token``, a JSON ``body`` when given."""
    found: dict[str, Any] = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "SCRIPT_NAME": "",
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_HOST": "127.0.0.1:8000",
        "HTTP_AUTHORIZATION": f"Token {token}",
        "wsgi.input": io.BytesIO(body),
        "wsgi.url_scheme": "http",
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
        "wsgi.version": (1, 0),
    }
    if body:
        found.update({"CONTENT_TYPE": "application/json", "CONTENT_LENGTH": str(len(body))})
    return found
