"""PATCH /api/cameras/{name}/motion: change a camera's motion settings live and keep them."""

from __future__ import annotations

from dataclasses import asdict

from camwatch.config import ConfigError
from camwatch.motion.settings import validated_changes
from camwatch.server.base import BaseHandler


class MotionSettingsHandler(BaseHandler):
    def get(self, name: str) -> None:
        self.write_json(asdict(self.camera_or_404(name).config.motion))

    def patch(self, name: str) -> None:
        camera = self.camera_or_404(name)
        changes = self.json_body()
        try:
            values = validated_changes(camera.config.motion, changes)
        except ConfigError as e:
            self.write_json({"error": str(e)}, status=400)
            return
        self.context.switches.change_motion(name, values)  # saved, applied, MQTT told
        self.write_json(asdict(camera.config.motion))
