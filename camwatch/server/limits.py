"""An HTTPServer that answers an oversized request body with a JSON 413 before reading any of it.

Tornado itself would drop such a connection with a bare `400 Bad Request`; here the client gets
a proper answer with the usual security headers, and the connection is closed unread."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable
from typing import Any

import tornado.httpserver
from tornado import httputil

from camwatch.server.guard import SECURITY_HEADERS

log = logging.getLogger(__name__)


def too_large_response(limit: int) -> bytes:
    body = json.dumps({"error": f"request body is larger than {limit} bytes"}).encode()
    headers = {
        **SECURITY_HEADERS,
        "Content-Type": "application/json; charset=utf-8",
        "Cache-Control": "no-store",
        "Connection": "close",
        "Content-Length": str(len(body)),
    }
    head = (
        "HTTP/1.1 413 Payload Too Large\r\n"
        + "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        + "\r\n"
    )
    return head.encode("latin-1") + body


class _BodyLimit(httputil.HTTPMessageDelegate):
    """Passes everything to the app's delegate unless the declared body is too large."""

    def __init__(self, delegate: httputil.HTTPMessageDelegate, connection: Any, limit: int) -> None:
        self.delegate, self.connection, self.limit = delegate, connection, limit

    def headers_received(
        self,
        start_line: httputil.RequestStartLine | httputil.ResponseStartLine,
        headers: httputil.HTTPHeaders,
    ) -> Awaitable[None] | None:
        length = headers.get("Content-Length", "")
        if length.isdigit() and int(length) > self.limit and hasattr(self.connection, "detach"):
            log.info("refused a %s byte request body", length)
            stream = self.connection.detach()  # no more HTTP on this connection: body unread
            stream.write(too_large_response(self.limit)).add_done_callback(lambda _: stream.close())
            return None
        return self.delegate.headers_received(start_line, headers)

    def data_received(self, chunk: bytes) -> Awaitable[None] | None:
        return self.delegate.data_received(chunk)

    def finish(self) -> None:
        self.delegate.finish()

    def on_connection_close(self) -> None:
        self.delegate.on_connection_close()


class LimitedHTTPServer(tornado.httpserver.HTTPServer):
    """HTTPServer whose `max_body_size` refusals are JSON 413 answers."""

    def start_request(
        self, server_conn: object, request_conn: httputil.HTTPConnection
    ) -> httputil.HTTPMessageDelegate:
        delegate = super().start_request(server_conn, request_conn)
        limit = self.conn_params.max_body_size or 100 * 1024 * 1024  # Tornado's default
        return _BodyLimit(delegate, request_conn, limit)
