"""JSON API handlers for cameras and health."""

from __future__ import annotations

from camwatch.server.base import BaseHandler


class CamerasHandler(BaseHandler):
    def get(self) -> None:
        self.write_json([camera.describe() for camera in self.context.cameras.values()])


class CameraHandler(BaseHandler):
    def get(self, name: str) -> None:
        self.write_json(self.camera_or_404(name).describe())


class HealthHandler(BaseHandler):
    def get(self) -> None:
        self.set_header("Content-Type", "text/plain; charset=utf-8")
        self.finish("ok")
