"""Frame: one captured picture, as pixels or camera JPEG, with a JPEG made at most once."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import cv2
import numpy as np

from camwatch import jpeg


@dataclass(eq=False)
class Frame:
    """A captured picture. Either `image` (BGR pixels) or `camera_jpeg` is set at creation.

    `captured_at` is wall-clock seconds (for file names and the UI); `monotonic` is
    `time.monotonic()` at capture (for durations, pacing and latency).
    """

    seq: int
    captured_at: float
    monotonic: float
    width: int
    height: int
    image: np.ndarray | None = None
    camera_jpeg: bytes | None = None
    online: bool = True
    jpeg_quality: int = 80
    # bytes ready for the wire (MJPEG parts, websocket messages), built on the event loop by the
    # first viewer that needs each kind and shared by the rest (see server/wire.py)
    wire: dict[str, bytes] = field(default_factory=dict, repr=False)
    _jpeg: bytes | None = field(default=None, repr=False)
    _grey: np.ndarray | None = field(default=None, repr=False)  # full-size grey of `image`
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def from_image(
        cls,
        image: np.ndarray,
        seq: int,
        *,
        captured_at: float | None = None,
        monotonic: float | None = None,
        online: bool = True,
        jpeg_quality: int = 80,
    ) -> Frame:
        height, width = image.shape[:2]
        return cls(
            seq=seq,
            captured_at=time.time() if captured_at is None else captured_at,
            monotonic=time.monotonic() if monotonic is None else monotonic,
            width=width,
            height=height,
            image=image,
            online=online,
            jpeg_quality=jpeg_quality,
        )

    @classmethod
    def from_jpeg(
        cls,
        data: bytes,
        seq: int,
        width: int,
        height: int,
        *,
        captured_at: float | None = None,
        monotonic: float | None = None,
    ) -> Frame:
        return cls(
            seq=seq,
            captured_at=time.time() if captured_at is None else captured_at,
            monotonic=time.monotonic() if monotonic is None else monotonic,
            width=width,
            height=height,
            camera_jpeg=data,
        )

    @property
    def has_jpeg(self) -> bool:
        return self.camera_jpeg is not None or self._jpeg is not None

    def jpeg(self) -> bytes:
        """The JPEG for viewers: the camera's own bytes if it sent JPEG, else encoded once.

        Blocking (a few ms for 720p): call it from a worker thread, not the event loop.
        """
        if self.camera_jpeg is not None:
            return self.camera_jpeg
        with self._lock:
            if self._jpeg is None:
                assert self.image is not None
                self._jpeg = jpeg.encode(self.image, self.jpeg_quality)
            return self._jpeg

    def bgr(self) -> np.ndarray:
        """Full-size BGR pixels, decoding the camera JPEG once if needed."""
        with self._lock:
            if self.image is None:
                assert self.camera_jpeg is not None
                self.image = jpeg.decode(self.camera_jpeg)
            return self.image

    def grey_small(self, max_width: int) -> np.ndarray:
        """A grey copy no wider than about max_width, cheaply (JPEG DCT scaling when possible)."""
        if self.image is None and self.camera_jpeg is not None:
            grey = jpeg.decode_grey_scaled(self.camera_jpeg, self.width, max_width)
        else:
            if self._grey is None:  # kept: the first look and the detector both start from it
                self._grey = cv2.cvtColor(self.bgr(), cv2.COLOR_BGR2GRAY)
            grey = self._grey
        height, width = grey.shape[:2]
        if width > max_width:
            size = (max_width, max(1, round(height * max_width / width)))
            grey = cv2.resize(grey, size, interpolation=cv2.INTER_AREA)
        return grey
