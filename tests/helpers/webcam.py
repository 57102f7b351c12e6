"""A USB-webcam stand-in behind OpenCVSource's capture seam: it answers like OpenCV's V4L2 backend
(FOURCC, CONVERT_RGB) and hands out the JPEG buffers of an MJPEG file made by ffmpeg, paced."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import cv2
import numpy as np

from camwatch.capture.sources import OpenCVSource

SOI, EOI = b"\xff\xd8", b"\xff\xd9"


def mjpeg_file(path: Path, *, size: str = "640x480", fps: int = 10, seconds: int = 8) -> Path:
    """A raw MJPEG stream (what a webcam sends in MJPG mode): a moving test pattern."""
    subprocess.run(
        [
            "ffmpeg",
            "-v",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            f"testsrc2=s={size}:r={fps}",
            "-t",
            str(seconds),
            "-c:v",
            "mjpeg",
            "-q:v",
            "5",
            "-pix_fmt",
            "yuvj420p",
            "-f",
            "mjpeg",
            str(path),
        ],
        check=True,
        timeout=60,
    )
    return path


def split_jpegs(data: bytes) -> list[bytes]:
    """The JPEGs of a raw MJPEG stream (each from its SOI to its EOI)."""
    frames, start = [], data.find(SOI)
    while start >= 0:
        end = data.find(EOI + SOI, start + 2)
        stop = len(data) if end < 0 else end + 2
        frames.append(data[start:stop])
        start = data.find(SOI, stop) if end >= 0 else -1
    return frames


class FakeV4l2Webcam:
    """cv2.VideoCapture as the V4L2 backend behaves for an MJPG webcam: after FOURCC MJPG and
    CONVERT_RGB 0, read() returns the camera's JPEG buffer as a 1-D uint8 array; with RGB
    conversion on (or a YUYV-only camera) it returns decoded BGR."""

    def __init__(self, jpegs: list[bytes], fps: float = 10, *, mjpg: bool = True) -> None:
        self.jpegs, self.fps, self.mjpg = jpegs, fps, mjpg
        self.fourcc = cv2.VideoWriter.fourcc(*"YUYV")
        self.convert_rgb = True
        self.index = 0
        self.started = time.monotonic()
        self.handed_out: list[bytes] = []

    def isOpened(self) -> bool:
        return True

    def set(self, prop: int, value: float) -> bool:
        if prop == cv2.CAP_PROP_FOURCC:
            if self.mjpg and round(value) == cv2.VideoWriter.fourcc(*"MJPG"):
                self.fourcc = round(value)
            return True
        if prop == cv2.CAP_PROP_CONVERT_RGB:
            self.convert_rgb = bool(value)
            return True
        return True

    def get(self, prop: int) -> float:
        return float(self.fourcc) if prop == cv2.CAP_PROP_FOURCC else 0.0

    def read(self) -> tuple[bool, np.ndarray | None]:
        delay = self.started + self.index / self.fps - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        data = self.jpeg(self.index)
        self.index += 1
        if self.convert_rgb or self.fourcc != cv2.VideoWriter.fourcc(*"MJPG"):
            return True, cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
        self.handed_out.append(data)
        return True, np.frombuffer(data, np.uint8).copy()

    def jpeg(self, index: int) -> bytes:
        """The camera's `index`th JPEG: its file, looped."""
        return self.jpegs[index % len(self.jpegs)]

    def release(self) -> None:
        pass


class CuedWebcam(FakeV4l2Webcam):
    """A webcam looking at a still scene (`still`, looped) until the test cues what it sees
    next (`cued`, played once), then still again: motion when the test is ready for it."""

    def __init__(self, still: list[bytes], cued: list[bytes], fps: float = 10) -> None:
        super().__init__(still, fps)
        self.cued = cued
        self.cued_at: int | None = None  # the frame index the cued frames start at

    def cue(self) -> None:
        self.cued_at = self.index + 1

    def jpeg(self, index: int) -> bytes:
        if self.cued_at is not None and 0 <= index - self.cued_at < len(self.cued):
            return self.cued[index - self.cued_at]
        return super().jpeg(index)


def webcam_source(
    fake: FakeV4l2Webcam, width: int = 640, height: int = 480, fps: int = 10
) -> OpenCVSource:
    """camwatch's V4L2 source for /dev/video0, opening `fake` instead of the device."""
    return OpenCVSource(
        "/dev/video0",
        width=width,
        height=height,
        fps=fps,
        backend=cv2.CAP_V4L2,
        capture_factory=lambda target, backend, params: fake,
    )
