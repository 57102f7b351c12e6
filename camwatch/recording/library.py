"""Whether a camera can record: PyAV, loaded when its first clip starts, loads; said once if not."""

from __future__ import annotations

import logging
from collections.abc import Callable

from camwatch.deferred import MissingLibrary, require

log = logging.getLogger(__name__)


class RecordingLibrary:
    """Per camera: asked before each clip or segment opens; PyAV's failure to load makes
    recording unavailable for good (logged once, as one line), and the camera goes on
    streaming and detecting."""

    def __init__(self, camera: str, on_unavailable: Callable[[str], None] | None = None) -> None:
        self.camera = camera
        self.unavailable: str | None = None  # why recording is unavailable
        self._on_unavailable = on_unavailable

    def available(self) -> bool:
        if self.unavailable is not None:
            return False
        try:
            require("av")
        except MissingLibrary as error:
            self.unavailable = str(error)
            log.error("camera %s: recording is unavailable: %s", self.camera, error)
            if self._on_unavailable is not None:
                self._on_unavailable(self.unavailable)
            return False
        return True
