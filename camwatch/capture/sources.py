"""Frame sources behind one small interface: V4L2 webcams, video files, network URLs, demo scene."""

from __future__ import annotations

import abc
import glob
import logging
import os
import time
from collections.abc import Callable
from typing import Protocol

import cv2
import numpy as np

from camwatch import jpeg
from camwatch.capture.mjpeg_client import MjpegReader, NotMjpeg
from camwatch.capture.redact import redact
from camwatch.frame import MAX_FRAME_PIXELS, FrameTooLarge, Picture, check_frame_size

log = logging.getLogger(__name__)

# A paced source this far behind its schedule re-anchors instead of catching up in a burst.
MAX_LAG_S = 0.5
MAX_BROKEN_JPEGS = 10


class SourceError(IOError):
    """The source cannot be opened or stopped delivering frames; the capture loop retries."""


class EndOfStream(SourceError):
    """A file source reached its end and does not loop."""


class FrameSource(abc.ABC):
    """Something that yields pictures. `read` blocks until the next one and paces itself."""

    description: str = ""

    @abc.abstractmethod
    def open(self) -> None:
        """Connect; raise SourceError if the source is not there."""

    @abc.abstractmethod
    def read(self) -> Picture:
        """The next picture (capture numbers it into a Frame); raise SourceError on failure."""

    def close(self) -> None:  # noqa: B027 - optional for sources with nothing to release
        """Release the device or connection."""


class VideoCaptureLike(Protocol):
    """What OpenCVSource uses of cv2.VideoCapture (the seam tests feed camera JPEGs through)."""

    def isOpened(self) -> bool: ...
    def read(self) -> tuple[bool, np.ndarray | None]: ...
    def get(self, prop: int) -> float: ...
    def set(self, prop: int, value: float) -> bool: ...
    def release(self) -> None: ...


CaptureFactory = Callable[[int | str, int, list[int]], VideoCaptureLike]
MJPG = cv2.VideoWriter.fourcc(*"MJPG")


def open_video_capture(target: int | str, backend: int, params: list[int]) -> VideoCaptureLike:
    capture: VideoCaptureLike = cv2.VideoCapture(target, backend, params)
    return capture


class OpenCVSource(FrameSource):
    """A cv2.VideoCapture: V4L2 webcams (asked for MJPG), or anything FFmpeg reads.

    A webcam that agrees to MJPG hands over its own JPEG buffers undecoded (the V4L2 backend
    with CAP_PROP_CONVERT_RGB off): viewers get the camera's bytes and detection decodes a
    DCT-scaled grey picture. A webcam that only does YUYV is decoded to BGR as before.
    """

    def __init__(
        self,
        target: int | str,
        *,
        width: int = 0,
        height: int = 0,
        fps: float = 0,
        backend: int = cv2.CAP_ANY,
        max_pixels: int = MAX_FRAME_PIXELS,
        capture_factory: CaptureFactory = open_video_capture,
    ) -> None:
        self.target, self.width, self.height, self.fps = target, width, height, fps
        self.backend, self.max_pixels = backend, max_pixels
        self.description = redact(str(target))
        self._capture_factory = capture_factory
        self._capture: VideoCaptureLike | None = None
        self.camera_jpeg = False  # reading the webcam's JPEG buffers as they are

    def open(self) -> None:
        params: list[int] = []
        if isinstance(self.target, str) and "://" in self.target:
            params = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, 10000, cv2.CAP_PROP_READ_TIMEOUT_MSEC, 10000]
        capture = self._capture_factory(self.target, self.backend, params)
        if not capture.isOpened():
            capture.release()
            raise SourceError(f"cannot open {self.description}")
        if self.backend == cv2.CAP_V4L2:
            self._configure_webcam(capture)
        capture.set(cv2.CAP_PROP_BUFFERSIZE, 1)  # newest frame, not a backlog
        self._capture = capture
        declared = (capture.get(cv2.CAP_PROP_FRAME_WIDTH), capture.get(cv2.CAP_PROP_FRAME_HEIGHT))
        self._check_size(int(declared[0]), int(declared[1]))

    def _check_size(self, width: int, height: int) -> None:
        try:
            check_frame_size(width, height, self.max_pixels)
        except FrameTooLarge as e:
            raise SourceError(f"{self.description}: {e}") from None

    def _configure_webcam(self, capture: VideoCaptureLike) -> None:
        capture.set(cv2.CAP_PROP_FOURCC, MJPG)
        if self.width and self.height:
            capture.set(cv2.CAP_PROP_FRAME_WIDTH, self.width)
            capture.set(cv2.CAP_PROP_FRAME_HEIGHT, self.height)
        if self.fps:
            capture.set(cv2.CAP_PROP_FPS, self.fps)
        # only after MJPG is chosen: with RGB conversion off, read() returns the JPEG buffer
        self.camera_jpeg = round(capture.get(cv2.CAP_PROP_FOURCC)) == MJPG and bool(
            capture.set(cv2.CAP_PROP_CONVERT_RGB, 0)
        )
        if not self.camera_jpeg:
            log.info("%s: no MJPG mode; decoding its frames", self.description)

    def read(self) -> Picture:
        for _ in range(MAX_BROKEN_JPEGS):
            image = self._read_image()
            if not (self.camera_jpeg and image.ndim <= 2 and image.dtype == np.uint8):
                self._check_size(image.shape[1], image.shape[0])
                return Picture.of_image(image)
            data = image.tobytes()  # the webcam's JPEG, as it sent it
            try:
                width, height = jpeg.dimensions(data)
            except jpeg.JpegError:
                continue  # a frame the webcam garbled (USB hiccup): take the next one
            self._check_size(width, height)
            return Picture.of_jpeg(data, width, height)
        raise SourceError(f"{self.description} keeps sending broken JPEGs")

    def _read_image(self) -> np.ndarray:
        if self._capture is None:
            raise SourceError("not open")
        ok, image = self._capture.read()
        if not ok or image is None:
            raise SourceError(f"{self.description} stopped delivering frames")
        return image

    def close(self) -> None:
        if self._capture is not None:
            self._capture.release()
            self._capture = None


class FileSource(OpenCVSource):
    """A video file played in real time, paced by its own timestamps, optionally looping."""

    def __init__(self, path: str, *, loop: bool = False) -> None:
        super().__init__(path, backend=cv2.CAP_FFMPEG)
        self.loop = loop
        self._start = 0.0
        self._position = 0.0  # timestamp of the last frame read, seconds from the file's start
        self._frame_interval = 0.1

    def open(self) -> None:
        if not os.path.isfile(str(self.target)):
            raise SourceError(f"no such file: {self.target}")
        super().open()
        assert self._capture is not None
        fps = self._capture.get(cv2.CAP_PROP_FPS)
        self._frame_interval = 1.0 / fps if 0 < fps < 1000 else 0.1
        self._position = 0.0
        self._start = time.monotonic()

    def read(self) -> Picture:
        assert self._capture is not None
        ok, image = self._capture.read()
        if not ok:
            if not self.loop:
                raise EndOfStream(f"end of {self.description}")
            self._capture.set(cv2.CAP_PROP_POS_FRAMES, 0)
            # the next round starts one frame after the last one, not at once
            self._start += self._position + self._frame_interval
            self._position = 0.0
            ok, image = self._capture.read()
            if not ok:
                raise SourceError(f"cannot rewind {self.description}")
        position = self._capture.get(cv2.CAP_PROP_POS_MSEC) / 1000.0
        if position > self._position:
            self._frame_interval = position - self._position
        self._position = position
        delay = self._start + position - time.monotonic()
        if delay > 0:
            time.sleep(min(delay, 5.0))
        elif delay < -MAX_LAG_S:  # we were held up: carry on in real time from here, no burst
            self._start -= delay
        assert image is not None
        return Picture.of_image(image)


class HttpSource(FrameSource):
    """An http(s) camera: MJPEG parsed directly (camera JPEG passed through), else FFmpeg."""

    def __init__(
        self, url: str, *, timeout: float = 10.0, max_pixels: int = MAX_FRAME_PIXELS
    ) -> None:
        self.url, self.timeout, self.max_pixels = url, timeout, max_pixels
        self.description = redact(url)
        self._mjpeg: MjpegReader | None = None
        self._fallback: OpenCVSource | None = None

    def open(self) -> None:
        try:
            self._mjpeg = MjpegReader(self.url, timeout=self.timeout, max_pixels=self.max_pixels)
        except NotMjpeg:
            self._fallback = OpenCVSource(
                self.url, backend=cv2.CAP_FFMPEG, max_pixels=self.max_pixels
            )
            self._fallback.open()
        except OSError as e:
            raise SourceError(f"cannot open {self.description}: {e}") from None

    def read(self) -> Picture:
        if self._fallback is not None:
            return self._fallback.read()
        if self._mjpeg is None:
            raise SourceError("not open")
        try:
            data, width, height = self._mjpeg.read_frame()
        except (OSError, FrameTooLarge) as e:
            raise SourceError(f"{self.description}: {e}") from None
        return Picture.of_jpeg(data, width, height)

    def close(self) -> None:
        if self._mjpeg is not None:
            self._mjpeg.close()
            self._mjpeg = None
        if self._fallback is not None:
            self._fallback.close()
            self._fallback = None


class DemoSource(FrameSource):
    """A synthetic scene: textured still background, sensor noise, a figure crossing now and then,
    and a clock, paced at `fps`. Deterministic for a given seed."""

    def __init__(
        self,
        width: int = 1280,
        height: int = 720,
        fps: float = 10.0,
        *,
        seed: int = 1,
        first_crossing_s: float = 3.0,
        crossing_interval_s: tuple[float, float] = (20.0, 40.0),
        crossing_duration_s: float = 6.0,
        paced: bool = True,
    ) -> None:
        self.width, self.height, self.fps = width or 1280, height or 720, fps
        self.description = "demo"
        self.paced = paced
        self._rng = np.random.default_rng(seed)
        self._interval = crossing_interval_s
        self._duration = crossing_duration_s
        self._first_crossing = first_crossing_s
        self._background = self._make_background()
        self._noise = [
            self._rng.integers(0, 7, self._background.shape, dtype=np.uint8) for _ in range(6)
        ]
        self._index = 0
        self._start = 0.0
        self._next_crossing = 0.0

    def _make_background(self) -> np.ndarray:
        """A garden at dusk: sky, a house, a lawn with a fence; textured so JPEG and motion
        detection have real work to do."""
        h, w = self.height, self.width
        horizon = int(h * 0.58)
        rows = np.linspace(0.0, 1.0, horizon)[:, None]
        sky = np.array([235, 200, 150]) * (1 - rows) + np.array([250, 235, 215]) * rows
        image = np.empty((h, w, 3), np.float32)
        image[:horizon] = sky[:, None, :]
        image[horizon:] = (70, 120, 85)  # lawn (BGR)
        grain = self._rng.normal(0, 1, (max(2, h // 6), max(2, w // 6), 3)).astype(np.float32)
        image += cv2.resize(grain, (w, h), interpolation=cv2.INTER_LINEAR) * 10
        image = np.clip(image, 0, 255).astype(np.uint8)
        left, top = int(w * 0.55), int(h * 0.30)
        right, base = int(w * 0.85), horizon + h // 20
        cv2.rectangle(image, (left, top), (right, base), (150, 170, 190), -1)  # house
        cv2.fillPoly(
            image,
            [
                np.array(
                    [
                        (left - w // 40, top),
                        ((left + right) // 2, top - h // 7),
                        (right + w // 40, top),
                    ]
                )
            ],
            (60, 60, 130),
        )  # roof
        for wx in (left + (right - left) // 6, left + (right - left) * 4 // 6):
            cv2.rectangle(
                image,
                (wx, top + h // 20),
                (wx + (right - left) // 6, top + h // 8),
                (110, 90, 60),
                -1,
            )  # windows
        post_top = horizon + h // 40
        for x in range(0, w, max(8, w // 16)):  # fence posts give the scene edges
            cv2.rectangle(
                image, (x, post_top), (x + max(2, w // 120), post_top + h // 8), (80, 95, 120), -1
            )
        cv2.line(
            image, (0, post_top + h // 40), (w, post_top + h // 40), (80, 95, 120), max(1, h // 200)
        )
        return image

    def open(self) -> None:
        self._start = time.monotonic()
        self._index = 0
        self._next_crossing = self._first_crossing

    def _elapsed(self) -> float:
        return self._index / self.fps

    def _draw_figure(self, image: np.ndarray, progress: float) -> None:
        h, w = self.height, self.width
        body_w, body_h = max(6, w // 24), max(20, h // 4)
        x = int(-body_w + progress * (w + 2 * body_w))
        feet = int(h * 0.85)
        cv2.rectangle(image, (x, feet - body_h), (x + body_w, feet), (40, 50, 160), -1)
        cv2.circle(
            image, (x + body_w // 2, feet - body_h - body_w // 2), body_w // 2, (120, 150, 200), -1
        )

    def read(self) -> Picture:
        if self.paced:
            delay = self._start + self._index / self.fps - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            elif delay < -MAX_LAG_S:  # held up: carry on in real time from here, no burst
                self._start -= delay
        elapsed = self._elapsed()
        if elapsed > self._next_crossing + self._duration:
            self._next_crossing = elapsed + float(self._rng.uniform(*self._interval))
        image = cv2.add(self._background, self._noise[self._index % len(self._noise)])
        if self._next_crossing <= elapsed <= self._next_crossing + self._duration:
            self._draw_figure(image, (elapsed - self._next_crossing) / self._duration)
        self._draw_clock(image, time.strftime("%Y-%m-%d %H:%M:%S"))
        self._index += 1
        return Picture.of_image(image)

    def _draw_clock(self, image: np.ndarray, stamp: str) -> None:
        """White text on a dark band, readable on any background, like a camera's overlay."""
        scale = max(0.5, self.height / 720) * 0.8
        thickness = max(1, round(2 * scale))
        (width, height), baseline = cv2.getTextSize(
            stamp, cv2.FONT_HERSHEY_SIMPLEX, scale, thickness
        )
        pad = max(4, round(8 * scale))
        cv2.rectangle(
            image, (0, 0), (width + 2 * pad, height + baseline + 2 * pad), (25, 25, 25), -1
        )
        cv2.putText(
            image,
            stamp,
            (pad, pad + height),
            cv2.FONT_HERSHEY_SIMPLEX,
            scale,
            (255, 255, 255),
            thickness,
            cv2.LINE_AA,
        )


def list_video_devices() -> list[str]:
    return sorted(glob.glob("/dev/video*"), key=lambda p: int(p[10:]) if p[10:].isdigit() else 0)


def probe_webcam(width: int, height: int, fps: float) -> OpenCVSource | None:
    """The first V4L2 camera that opens and delivers a frame, or None."""
    for path in list_video_devices():
        source = OpenCVSource(path, width=width, height=height, fps=fps, backend=cv2.CAP_V4L2)
        try:
            source.open()
            source.read()
            return source
        except SourceError:
            source.close()
    return None


def make_source(
    spec: str,
    *,
    width: int = 0,
    height: int = 0,
    fps: float = 10.0,
    loop: bool = False,
    max_pixels: int = MAX_FRAME_PIXELS,
) -> FrameSource:
    """A frame source for a `--source` value (the packet sources are made by the camera:
    see capture/camera.py)."""
    if spec == "demo":
        return DemoSource(width, height, fps)
    if spec.isdigit() or spec.startswith("/dev/video"):
        target: int | str = int(spec) if spec.isdigit() else spec
        return OpenCVSource(target, width=width, height=height, fps=fps, backend=cv2.CAP_V4L2)
    if spec.startswith(("http://", "https://")):
        return HttpSource(spec, max_pixels=max_pixels)
    if "://" in spec:
        return OpenCVSource(spec, backend=cv2.CAP_FFMPEG)
    return FileSource(spec, loop=loop)
