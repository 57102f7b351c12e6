"""MotionDetector: grey image in, delta out (% of pixels changed); no I/O."""

from __future__ import annotations

import cv2
import numpy as np

from camwatch.config import MotionConfig

DETECT_WIDTH = 320  # motion is judged on a grey copy about this wide


class MotionDetector:
    """Compares each small, blurred grey frame with the previous one.

    A pixel has changed when its grey level moved more than `pixel_threshold`; delta is the
    percentage of changed pixels (0-100). Settings are read on every call, so changes apply live.
    """

    def __init__(self, settings: MotionConfig) -> None:
        self.settings = settings
        self._previous: np.ndarray | None = None

    def reset(self) -> None:
        """Forget the reference (after the camera was offline or the scene jumped)."""
        self._previous = None

    def update(self, grey: np.ndarray) -> float:
        """Delta for this frame against the previous one; 0 for the first frame."""
        blurred = cv2.GaussianBlur(grey, (5, 5), 0)
        previous, self._previous = self._previous, blurred
        if previous is None or previous.shape != blurred.shape:
            return 0.0
        difference = cv2.absdiff(blurred, previous)
        _, changed = cv2.threshold(difference, self.settings.pixel_threshold, 255,
                                   cv2.THRESH_BINARY)
        return 100.0 * cv2.countNonZero(changed) / changed.size
