"""An HTTPServer within limits: request bodies refused in JSON (413 before reading an oversized
one, declared or chunked; 400 for framing or a Host header Tornado would answer with a bare
line), and connections counted against the descriptor budget (see connections.py)."""

from __future__ import annotations

import json
import logging
import re
import socket
from collections.abc import Awaitable, Iterable
from http import HTTPStatus
from typing import Any

import tornado.httpserver
import tornado.ioloop
from tornado import httputil, iostream
from tornado.http1connection import HTTP1ServerConnection

from camwatch.server.connections import ConnectionGate, add_accept_handler
from camwatch.server.guard import SECURITY_HEADERS

log = logging.getLogger(__name__)

# Tornado's own limit, set far above ours so that it never answers first with its bare 400.
BACKSTOP_BODY_BYTES = 1 << 62
CONTENT_LENGTH = re.compile(r"^[0-9]{1,18}$")


def error_response(status: int, message: str) -> bytes:
    body = json.dumps({"error": message}).encode()
    headers = {
        **SECURITY_HEADERS,
        "Content-Type": "application/json; charset=utf-8",
        "Cache-Control": "no-store",
        "Connection": "close",
        "Content-Length": str(len(body)),
    }
    head = f"HTTP/1.1 {status} {HTTPStatus(status).phrase}\r\n" + "".join(
        f"{name}: {value}\r\n" for name, value in headers.items()
    )
    return (head + "\r\n").encode("latin-1") + body


def too_large_response(limit: int) -> bytes:
    return error_response(413, f"request body is larger than {limit} bytes")


def framing_error(headers: httputil.HTTPHeaders) -> str | None:
    """Why the body's framing is unusable, or None (the checks Tornado makes, answered in JSON)."""
    lengths = {value.strip() for value in headers.get_list("Content-Length")}
    lengths = {part.strip() for value in lengths for part in value.split(",")}
    encoding = headers.get("Transfer-Encoding")
    if len(lengths) > 1 or any(not CONTENT_LENGTH.match(value) for value in lengths):
        return "Content-Length must be one integer"
    if encoding is not None and (lengths or encoding.lower() != "chunked"):
        return "Transfer-Encoding must be chunked, without a Content-Length"
    return None


class _BodyLimit(httputil.HTTPMessageDelegate):
    """Passes everything to the app's delegate unless the body is too large or badly framed."""

    def __init__(self, delegate: httputil.HTTPMessageDelegate, connection: Any, limit: int) -> None:
        self.delegate, self.connection, self.limit = delegate, connection, limit
        self.received = 0
        self.refused = False

    def headers_received(
        self,
        start_line: httputil.RequestStartLine | httputil.ResponseStartLine,
        headers: httputil.HTTPHeaders,
    ) -> Awaitable[None] | None:
        error = framing_error(headers)
        length = headers.get("Content-Length", "0")
        if error is None and length.isdigit() and int(length) > self.limit:
            log.info("refused a %s byte request body", length)
            self._refuse_unread(too_large_response(self.limit))
            return None
        if error is not None:
            self._refuse_unread(error_response(400, error))
            return None
        try:
            return self.delegate.headers_received(start_line, headers)
        except httputil.HTTPInputError as e:  # the Host header: missing, invalid or repeated
            if not hasattr(self.connection, "detach"):
                raise
            log.info("refused a request from %s: %s", _peer(self.connection), e)
            self._refuse_unread(error_response(400, str(e)))
            return None

    def _refuse_unread(self, response: bytes) -> None:
        if not hasattr(self.connection, "detach"):
            raise httputil.HTTPInputError("refused")  # not HTTP/1: Tornado's own refusal
        self.refused = True
        stream = self.connection.detach()  # no more HTTP on this connection: body unread
        stream.write(response).add_done_callback(lambda _: stream.close())

    def data_received(self, chunk: bytes) -> Awaitable[None] | None:
        if self.refused:
            return None
        self.received += len(chunk)
        if self.received > self.limit:  # a chunked body: no length was declared
            log.info("refused a chunked request body over %d bytes", self.limit)
            self.refused = True
            stream = self.connection.stream
            stream.write(too_large_response(self.limit)).add_done_callback(lambda _: stream.close())
            return None
        return self.delegate.data_received(chunk)

    def finish(self) -> None:
        if not self.refused:
            self.delegate.finish()

    def on_connection_close(self) -> None:
        if not self.refused or self.received:
            self.delegate.on_connection_close()


def _peer(connection: Any) -> str:
    context = getattr(connection, "context", None)
    return str(getattr(context, "remote_ip", "?"))


class LimitedHTTPServer(tornado.httpserver.HTTPServer):
    """HTTPServer whose request bodies are limited to `body_limit` bytes, refused in JSON, and
    whose connections are counted by a ConnectionGate (refused before descriptors run out)."""

    body_limit = 1024 * 1024
    gate: ConnectionGate | None = None

    def initialize(
        self,
        *args: Any,
        body_limit: int = 1024 * 1024,
        gate: ConnectionGate | None = None,
        **kwargs: Any,
    ) -> None:
        self.body_limit, self.gate = body_limit, gate
        self._sweeper: tornado.ioloop.PeriodicCallback | None = None
        kwargs["max_body_size"] = BACKSTOP_BODY_BYTES
        super().initialize(*args, **kwargs)

    def add_sockets(self, sockets: Iterable[socket.socket]) -> None:
        if self.gate is None:
            super().add_sockets(sockets)
            return
        for sock in sockets:
            self._sockets[sock.fileno()] = sock
            self._handlers[sock.fileno()] = add_accept_handler(
                sock, self._handle_connection, self.gate
            )
        if self._sweeper is None:  # websockets that closed, and pressure lines due
            self._sweeper = tornado.ioloop.PeriodicCallback(self.gate.sweep, 5000)
            self._sweeper.start()

    def stop(self) -> None:
        if self._sweeper is not None:
            self._sweeper.stop()
        super().stop()

    def handle_stream(self, stream: iostream.IOStream, address: tuple[Any, ...]) -> None:
        if self.gate is not None:
            self.gate.opened(stream, address[0] if isinstance(address, tuple) else "")
        super().handle_stream(stream, address)

    def on_close(self, server_conn: object) -> None:
        if self.gate is not None and isinstance(server_conn, HTTP1ServerConnection):
            self.gate.http_ended(server_conn.stream)
        super().on_close(server_conn)

    def start_request(
        self, server_conn: object, request_conn: httputil.HTTPConnection
    ) -> httputil.HTTPMessageDelegate:
        delegate = super().start_request(server_conn, request_conn)
        return _BodyLimit(delegate, request_conn, self.body_limit)
