"""HTTP (optionally TLS) and websocket clients for the security tests: no redirects followed."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import http.client
import socket
import ssl
from collections.abc import Iterator
from typing import Any

import tornado.httpclient
import tornado.websocket

from tests.helpers import http_client


class Response(http_client.Response):
    """tests/http_client.Response with header and cookie helpers."""

    def header(self, name: str) -> str | None:
        return self.headers.get(name)

    @property
    def cookies(self) -> list[str]:
        return self.headers.get_all("Set-Cookie") or []


def basic_header(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def request(
    port: int,
    method: str,
    path: str,
    *,
    headers: dict[str, str] | None = None,
    body: bytes | str | None = None,
    tls: ssl.SSLContext | None = None,
    timeout: float = 10.0,
) -> Response:
    if tls is not None:
        connection: http.client.HTTPConnection = http.client.HTTPSConnection(
            "127.0.0.1", port, timeout=timeout, context=tls
        )
    else:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return Response(response.status, response.headers, response.read())
    finally:
        connection.close()


def session_cookie(response: Response) -> str:
    """`camwatch_session=...` from a login response, ready for a Cookie header."""
    for cookie in response.cookies:
        if cookie.startswith("camwatch_session="):
            return cookie.split(";")[0]
    raise AssertionError(f"no session cookie in {response.cookies}")


def websocket_frames(
    url: str,
    headers: dict[str, str] | None = None,
    count: int = 1,
    timeout: float = 10.0,
    tls: ssl.SSLContext | None = None,
) -> list[Any]:
    """Connect, read `count` messages, close; raises HTTPClientError if refused."""

    async def run() -> list[Any]:
        request = tornado.httpclient.HTTPRequest(
            url, headers=headers or {}, ssl_options=tls, request_timeout=timeout
        )
        connection = await tornado.websocket.websocket_connect(request)
        try:
            return [
                await asyncio.wait_for(connection.read_message(), timeout) for _ in range(count)
            ]
        finally:
            connection.close()

    return asyncio.run(run())


def websocket_refusal(url: str, headers: dict[str, str] | None = None) -> int:
    """The HTTP status of a refused websocket handshake (fails if it was accepted)."""
    try:
        websocket_frames(url, headers, count=1)
    except tornado.httpclient.HTTPClientError as e:
        return e.code
    raise AssertionError(f"websocket {url} was accepted")


async def raw_exchange(
    port: int, data: bytes, *, source: str | None = None, timeout: float = 30.0
) -> bytes:
    """Send `data` on a new connection and read until the server closes it."""
    local = (source, 0) if source else None
    reader, writer = await asyncio.wait_for(
        asyncio.open_connection("127.0.0.1", port, local_addr=local), timeout
    )
    try:
        writer.write(data)
        await writer.drain()
        return await asyncio.wait_for(reader.read(), timeout)
    finally:
        writer.close()


def status_of(answer: bytes) -> int:
    """The status code of a raw HTTP answer (0 if there was none)."""
    parts = answer.split(b" ", 2)
    return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0


def header_of(answer: bytes, name: str) -> str | None:
    head = answer.partition(b"\r\n\r\n")[0].decode("latin-1")
    for line in head.split("\r\n")[1:]:
        key, _, value = line.partition(":")
        if key.strip().lower() == name.lower():
            return value.strip()
    return None


def concurrently(port: int, requests: list[bytes]) -> list[bytes]:
    """Send every request on its own connection at once; the raw answers, in order."""
    return concurrently_from(port, [(None, r) for r in requests])


def concurrently_from(port: int, requests: list[tuple[str | None, bytes]]) -> list[bytes]:
    """Like concurrently, each request from its own loopback source address (or None).

    Every connection is opened and sent all of its request but the last byte first; then the
    last bytes go out together, so the server gets the requests at once even on a busy
    machine where opening hundreds of connections takes seconds."""

    async def one(source: str | None, data: bytes, ready: asyncio.Barrier) -> bytes:
        local = (source, 0) if source else None
        reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=local)
        try:
            writer.write(data[:-1])
            await writer.drain()
            await ready.wait()
            writer.write(data[-1:])
            await writer.drain()
            return await asyncio.wait_for(reader.read(), 60)
        finally:
            writer.close()

    async def run() -> list[bytes]:
        ready = asyncio.Barrier(len(requests))
        return list(await asyncio.gather(*(one(s, data, ready) for s, data in requests)))

    return asyncio.run(run())


def http_request(method: str, path: str, headers: dict[str, str], body: bytes = b"") -> bytes:
    """One HTTP/1.1 request that asks the server to close the connection after answering."""
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", "Connection: close"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    if body or method in ("POST", "PATCH", "PUT"):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


HALF_HEADER = b"GET / HTTP/1.1\r\nHost: camwatch\r\nUser-Agent: slow"


@contextlib.contextmanager
def idle_connections(port: int, sources: list[str], each: int) -> Iterator[list[socket.socket]]:
    """`each` connections from every loopback source address, half a header sent, held open."""
    held: list[socket.socket] = []
    try:
        for source in sources:
            for _ in range(each):
                client = socket.socket()
                held.append(client)
                client.settimeout(10)
                client.bind((source, 0))
                with contextlib.suppress(OSError):  # refused ones may be reset at once
                    client.connect(("127.0.0.1", port))
                    client.sendall(HALF_HEADER)
        yield held
    finally:
        for client in held:
            client.close()
