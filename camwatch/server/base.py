"""BaseHandler: JSON errors, context injection and security headers shared by every handler."""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import Any

import tornado.web

from camwatch.camera import Camera
from camwatch.server.context import AppContext

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; "
        "media-src 'self' blob:; connect-src 'self'; frame-ancestors 'none'; "
        "base-uri 'none'; form-action 'self'"
    ),
}


class BaseHandler(tornado.web.RequestHandler):
    """Injects the AppContext; errors come out as {"error": message}."""

    context: AppContext

    def initialize(self, context: AppContext) -> None:
        self.context = context

    def set_default_headers(self) -> None:
        for name, value in SECURITY_HEADERS.items():
            self.set_header(name, value)

    def write_json(self, value: Any, status: int = 200) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.set_header("Cache-Control", "no-store")
        self.finish(json.dumps(value))

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        message = self._reason
        exc_info = kwargs.get("exc_info")
        if exc_info and isinstance(exc_info[1], tornado.web.HTTPError):
            message = exc_info[1].log_message or HTTPStatus(status_code).phrase
        elif status_code >= 500:
            message = "internal server error"
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.finish(json.dumps({"error": message}))

    def camera_or_404(self, name: str | None) -> Camera:
        camera = self.context.camera(name)
        if camera is None:
            raise tornado.web.HTTPError(404, "no camera named %s" % (name or "(any)"))
        return camera

    def json_body(self) -> dict[str, Any]:
        try:
            body = json.loads(self.request.body or b"null")
        except (ValueError, UnicodeDecodeError):
            raise tornado.web.HTTPError(400, "request body is not valid JSON") from None
        if not isinstance(body, dict):
            raise tornado.web.HTTPError(400, "request body must be a JSON object")
        return body


class NotFoundHandler(BaseHandler):
    def prepare(self) -> None:
        raise tornado.web.HTTPError(404, "not found")
