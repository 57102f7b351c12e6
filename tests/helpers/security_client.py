"""HTTP (optionally TLS) and websocket clients for the security tests: no redirects followed."""

from __future__ import annotations

import asyncio
import base64
import http.client
import ssl
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
