"""TimedDetector: a camera frame through the motion detector, with the time it takes counted."""

from __future__ import annotations

import time

import numpy as np

from camwatch.config import MotionConfig
from camwatch.frame import Frame
from camwatch.motion.detector import MotionDetector, frame_delta


class TimedDetector:
    """Gives each frame to the detector (a first look, then the detection image if needed:
    frame_delta) and adds up the seconds spent (for /metrics). A corrupt camera JPEG raises
    camwatch.jpeg.JpegError and is not counted."""

    def __init__(self, settings: MotionConfig) -> None:
        self.detector = MotionDetector(settings)
        self.seconds = 0.0
        self.count = 0

    @property
    def foreground(self) -> np.ndarray | None:
        """The pixels counted as moving in the latest frame (0/255), None before the first."""
        return self.detector.foreground

    def update(self, frame: Frame, luma: np.ndarray | None = None) -> float:
        """`luma`: the frame's full-size grey picture, when it was decoded anyway."""
        started = time.perf_counter()
        delta = frame_delta(self.detector, frame, frame.monotonic, luma)
        self.seconds += time.perf_counter() - started
        self.count += 1
        return delta

    def reset(self) -> None:
        self.detector.reset()
