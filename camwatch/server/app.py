"""The Tornado application factory: routes, static files and settings."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import tornado.log
import tornado.web

from camwatch.server import api, live, login
from camwatch.server.auth import Authenticator
from camwatch.server.base import BaseHandler, NotFoundHandler
from camwatch.server.context import AppContext
from camwatch.server.guard import Guarded

WEB_DIR = Path(__file__).resolve().parent.parent / "web"
CAMERA = r"(?P<name>[a-z0-9_-]+)"

Route = tuple[str, type[tornado.web.RequestHandler], dict[str, Any]]


class IndexHandler(BaseHandler):
    def get(self) -> None:
        self.set_header("Cache-Control", "no-cache")
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.finish((WEB_DIR / "index.html").read_bytes())


class StaticHandler(Guarded, tornado.web.StaticFileHandler):
    """Static files from camwatch/web only (Tornado rejects paths that leave the root).

    Only what the login page needs is served before logging in."""

    PUBLIC_FILES = frozenset({"login.js", "login.css", "icon.svg"})

    def initialize(  # type: ignore[override]
        self,
        path: str,
        context: AppContext,
        default_filename: str | None = None,
    ) -> None:
        super().initialize(path, default_filename)
        self.context = context

    @property
    def public(self) -> bool:  # type: ignore[override]
        return bool(self.path_args) and self.path_args[0] in self.PUBLIC_FILES

    async def get(self, path: str, include_body: bool = True) -> None:
        try:
            await super().get(path, include_body)
        except tornado.web.HTTPError as e:
            if e.status_code in (403, 404):  # outside the root, a directory, or missing
                raise tornado.web.HTTPError(404, "not found") from None
            raise

    def set_extra_headers(self, path: str) -> None:
        # revalidate (a cheap 304) so an upgraded server never runs with stale modules
        self.set_header("Cache-Control", "no-cache")


def routes(context: AppContext, extra: list[Route] | None = None) -> list[Route]:
    ctx = {"context": context}
    table: list[Route] = [
        (r"/", IndexHandler, ctx),
        (r"/healthz", api.HealthHandler, ctx),
        (r"/login", login.LoginPageHandler, ctx),
        (r"/logout", login.LogoutHandler, ctx),
        (r"/api/status", login.StatusHandler, ctx),
        (r"/webcam", live.LiveSocketHandler, ctx),
        (rf"/cameras/{CAMERA}/ws", live.LiveSocketHandler, ctx),
        (r"/stream\.mjpg", live.MjpegHandler, ctx),
        (rf"/cameras/{CAMERA}/stream\.mjpg", live.MjpegHandler, ctx),
        (r"/snapshot\.jpg", live.SnapshotHandler, ctx),
        (rf"/cameras/{CAMERA}/snapshot\.jpg", live.SnapshotHandler, ctx),
        (rf"/cameras/{CAMERA}/motion\.png", live.MotionViewHandler, ctx),
        (r"/api/cameras", api.CamerasHandler, ctx),
        (rf"/api/cameras/{CAMERA}", api.CameraHandler, ctx),
        (rf"/api/cameras/{CAMERA}/motion/history", api.MotionHistoryHandler, ctx),
        (r"/static/(.*)", StaticHandler, {"path": str(WEB_DIR), "context": context}),
    ]
    return (extra or []) + table


def log_request(handler: tornado.web.RequestHandler) -> None:
    """One access log line per request, as Tornado's, with the reason of an error response
    (Guarded.log_exception keeps it for this line instead of logging it apart)."""
    status = handler.get_status()
    access = tornado.log.access_log
    write = access.info if status < 400 else access.warning if status < 500 else access.error
    request = handler.request
    reason = getattr(handler, "error_reason", "")
    write(
        "%d %s %s (%s) %.2fms%s",
        status,
        request.method,
        request.uri,
        request.remote_ip,
        1000.0 * request.request_time(),
        f": {reason}" if reason else "",
    )


def check_guarded(table: list[Route]) -> None:
    """Every handler must pass the security gate; a route that does not is a bug, not a choice."""
    for pattern, handler, _ in table:
        if not issubclass(handler, Guarded):
            raise TypeError(f"route {pattern}: {handler.__name__} does not mix in Guarded")


def make_app(
    context: AppContext, extra_routes: list[Route] | None = None, **settings: Any
) -> tornado.web.Application:
    if context.auth is None:
        context.auth = Authenticator.from_config(context.config.server)
    table = routes(context, extra_routes)
    check_guarded(table)
    return tornado.web.Application(
        table,
        default_handler_class=NotFoundHandler,
        default_handler_args={"context": context},
        websocket_ping_interval=20,
        websocket_ping_timeout=20,  # Tornado caps it at the interval (and warns if larger)
        websocket_max_message_size=64 * 1024,  # the live socket takes no input worth more
        **{"log_function": log_request, **settings},
    )
