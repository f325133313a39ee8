"""The embedded web server (SPEC §11): waitress, with each whole answer sent in one write.

waitress sends an answer's head (status line and headers) as soon as it is built and then its
body, each by its own ``send`` on the socket (its ``send_bytes`` is 1: flush every write at
once). A claim's answer is one body of known length, so it left the server as two sends, two
TCP segments with the clients' ``TCP_NODELAY``, and two system calls that each gave up and
took back the interpreter lock while seven other request threads wanted it. Here an answer
whose body comes in one piece of exactly its ``Content-Length`` is sent as head and body
together, in one write; every other answer (streamed, chunked, a file, a HEAD, a body written
in several pieces) is waitress's own path. The bytes on the wire are the same either way.
"""

from __future__ import annotations

import logging
from typing import Any

from waitress.channel import HTTPChannel
from waitress.server import BaseWSGIServer, create_server
from waitress.task import WSGITask


class OneWriteTask(WSGITask):  # type: ignore[misc]
    """waitress's WSGI task, writing the head with a body that is the whole answer."""

    def write(self, data: bytes) -> None:
        if not self._is_whole_answer(data):
            super().write(data)
            return
        head = self.build_response_header()
        self.wrote_header = True
        self.content_bytes_written += len(data)
        self.channel.write_soon(head + data)

    def _is_whole_answer(self, data: bytes) -> bool:
        return bool(
            self.complete
            and not self.wrote_header
            and data
            and self.content_length is not None
            and len(data) == self.content_length
            and self.has_body
            and self.request.command != "HEAD"
        )


class OneWriteChannel(HTTPChannel):  # type: ignore[misc]
    task_class = OneWriteTask


def embedded_server(application: Any, **adjustments: Any) -> Any:
    """waitress's server for ``application`` (``create_server``'s adjustments), its
    connections served by ``OneWriteChannel``."""
    server = create_server(application, **adjustments)
    # One address gives its listener; several (``localhost`` on IPv4 and IPv6) a
    # ``MultiSocketServer`` whose map holds one listener per address.
    for listener in [server, *getattr(server, "map", {}).values()]:
        if isinstance(listener, BaseWSGIServer):
            listener.channel_class = OneWriteChannel
    return server


def serve(application: Any, **adjustments: Any) -> None:
    """``waitress.serve`` with ``embedded_server``: run until stopped."""
    logging.basicConfig()  # as waitress.serve: idempotent once logging is set up
    server = embedded_server(application, **adjustments)
    server.print_listen("Serving on http://{}:{}")
    server.run()
