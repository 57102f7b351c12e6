"""AppContext: everything the handlers need, injected through RequestHandler.initialize()."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from camwatch.capture.camera import Camera
from camwatch.config import Config


@dataclass
class AppContext:
    config: Config
    cameras: dict[str, Camera] = field(default_factory=dict)
    # Filled in by later layers (event store, auth, metrics); Any keeps this module dependency-free.
    services: dict[str, Any] = field(default_factory=dict)

    @property
    def first_camera(self) -> Camera | None:
        return next(iter(self.cameras.values()), None)

    def camera(self, name: str | None) -> Camera | None:
        if name is None:
            return self.first_camera
        return self.cameras.get(name)
