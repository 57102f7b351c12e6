"""JSON API handlers for cameras and health."""

from __future__ import annotations

from typing import Any

import tornado.web

from camwatch.capture.camera import Camera
from camwatch.config import ConfigError
from camwatch.recording.switches import validated_switches
from camwatch.server.base import BaseHandler
from camwatch.server.context import AppContext

HISTORY_SECONDS = 60.0


def describe_camera(context: AppContext, camera: Camera) -> dict[str, Any]:
    """The camera as `GET /api/cameras` shows it, with its `detect` and `recordings` switches."""
    return {**camera.describe(), **context.switches.state(camera.name).to_json()}


class CamerasHandler(BaseHandler):
    def get(self) -> None:
        self.write_json(
            [describe_camera(self.context, camera) for camera in self.context.cameras.values()]
        )


class CameraHandler(BaseHandler):
    def get(self, name: str) -> None:
        self.write_json(describe_camera(self.context, self.camera_or_404(name)))

    def patch(self, name: str) -> None:
        """`{"detect": bool, "recordings": bool}` (either): the switches MQTT also sets."""
        camera = self.camera_or_404(name)
        try:
            changes = validated_switches(self.json_body())
        except ConfigError as e:
            self.write_json({"error": str(e)}, status=400)
            return
        self.context.switches.set(name, **changes)
        self.write_json(describe_camera(self.context, camera))


class MotionHistoryHandler(BaseHandler):
    """The camera's recent (time, delta) pairs, so the UI's motion graph starts full.

    `?seconds=` limits the window (default 60, counted back from the newest point).
    """

    def get(self, name: str) -> None:
        camera = self.camera_or_404(name)
        try:
            seconds = float(self.get_query_argument("seconds", str(HISTORY_SECONDS)))
        except ValueError:
            raise tornado.web.HTTPError(400, "seconds must be a number") from None
        if not 0 < seconds <= 3600:
            raise tornado.web.HTTPError(400, "seconds must be in (0, 3600]")
        history = tuple(camera.delta_history)  # one C-level copy: safe against the capture thread
        newest = history[-1][0] if history else 0.0
        points = [[round(t, 3), round(delta, 4)] for t, delta in history if t >= newest - seconds]
        self.write_json(
            {"camera": camera.name, "threshold": camera.config.motion.threshold, "points": points}
        )


class HealthHandler(BaseHandler):
    public = True  # for monitors and container health checks; says nothing but "ok"

    def get(self) -> None:
        self.set_header("Content-Type", "text/plain; charset=utf-8")
        self.finish("ok")
