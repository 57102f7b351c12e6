"""BaseHandler: context injection, JSON helpers; security and errors come from Guarded."""

from __future__ import annotations

import json
from typing import Any

import tornado.web

from camwatch.capture.camera import Camera
from camwatch.server.context import AppContext
from camwatch.server.guard import SECURITY_HEADERS, Guarded

__all__ = ["SECURITY_HEADERS", "BaseHandler", "NotFoundHandler"]


@tornado.web.stream_request_body
class BaseHandler(Guarded):
    """Injects the AppContext; errors come out as {"error": message} (see Guarded).

    The body is streamed: the guard (login, CSRF, the declared length) runs on the headers,
    before any of it is read, and a chunked body stops being read at `max_body_bytes`."""

    context: AppContext

    def initialize(self, context: AppContext) -> None:
        self.context = context
        self._body = bytearray()

    def data_received(self, chunk: bytes) -> None:
        if self._finished:
            return
        if len(self._body) + len(chunk) > self.max_body_bytes:
            self._body.clear()
            try:
                self.refuse_body()
            except tornado.web.HTTPError as e:
                self.send_error(e.status_code, exc_info=(type(e), e, e.__traceback__))
            return
        self._body += chunk

    @property
    def body(self) -> bytes:
        return bytes(self._body)

    def write_json(self, value: Any, status: int = 200) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.set_header("Cache-Control", "no-store")
        self.finish(json.dumps(value))

    def camera_or_404(self, name: str | None) -> Camera:
        camera = self.context.camera(name)
        if camera is None:
            raise tornado.web.HTTPError(404, "no camera named %s" % (name or "(any)"))
        return camera

    def json_body(self) -> dict[str, Any]:
        try:
            body = json.loads(self.body or b"null")
        except (ValueError, UnicodeDecodeError, RecursionError):
            raise tornado.web.HTTPError(400, "request body is not valid JSON") from None
        if not isinstance(body, dict):
            raise tornado.web.HTTPError(400, "request body must be a JSON object")
        return body


class NotFoundHandler(BaseHandler):
    async def prepare(self) -> None:
        await super().prepare()  # unknown paths answer 401 until logged in: no route probing
        raise tornado.web.HTTPError(404, "not found")
