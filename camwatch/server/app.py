"""The Tornado application factory: routes, static files and settings."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import tornado.web

from camwatch.server import api, live
from camwatch.server.base import SECURITY_HEADERS, BaseHandler, NotFoundHandler
from camwatch.server.context import AppContext

WEB_DIR = Path(__file__).resolve().parent.parent / "web"
CAMERA = r"(?P<name>[a-z0-9_-]+)"

Route = tuple[str, type[tornado.web.RequestHandler], dict[str, Any]]


class IndexHandler(BaseHandler):
    def get(self) -> None:
        self.set_header("Cache-Control", "no-cache")
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.finish((WEB_DIR / "index.html").read_bytes())


class StaticHandler(tornado.web.StaticFileHandler):
    """Static files from camwatch/web only (Tornado rejects paths that leave the root)."""

    def set_default_headers(self) -> None:
        for name, value in SECURITY_HEADERS.items():
            self.set_header(name, value)

    def set_extra_headers(self, path: str) -> None:
        # revalidate (a cheap 304) so an upgraded server never runs with stale modules
        self.set_header("Cache-Control", "no-cache")


def routes(context: AppContext, extra: list[Route] | None = None) -> list[Route]:
    ctx = {"context": context}
    table: list[Route] = [
        (r"/", IndexHandler, ctx),
        (r"/healthz", api.HealthHandler, ctx),
        (r"/webcam", live.LiveSocketHandler, ctx),
        (rf"/cameras/{CAMERA}/ws", live.LiveSocketHandler, ctx),
        (r"/stream\.mjpg", live.MjpegHandler, ctx),
        (rf"/cameras/{CAMERA}/stream\.mjpg", live.MjpegHandler, ctx),
        (r"/snapshot\.jpg", live.SnapshotHandler, ctx),
        (rf"/cameras/{CAMERA}/snapshot\.jpg", live.SnapshotHandler, ctx),
        (r"/api/cameras", api.CamerasHandler, ctx),
        (rf"/api/cameras/{CAMERA}", api.CameraHandler, ctx),
        (rf"/api/cameras/{CAMERA}/motion/history", api.MotionHistoryHandler, ctx),
        (r"/static/(.*)", StaticHandler, {"path": str(WEB_DIR)}),
    ]
    return (extra or []) + table


def make_app(context: AppContext, extra_routes: list[Route] | None = None,
             **settings: Any) -> tornado.web.Application:
    return tornado.web.Application(
        routes(context, extra_routes),
        default_handler_class=NotFoundHandler,
        default_handler_args={"context": context},
        websocket_ping_interval=20,
        websocket_ping_timeout=20,  # Tornado caps it at the interval (and warns if larger)
        **settings,
    )
