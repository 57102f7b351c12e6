"""Picture and Frame: what a source read, and that picture numbered by capture, with its JPEG
made at most once."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import cv2
import numpy as np

from camwatch import jpeg

MAX_FRAME_PIXELS = 8192 * 8192


class FrameTooLarge(ValueError):
    """A source declares a picture larger than the camera's max_frame_pixels."""


def check_frame_size(width: int, height: int, max_pixels: int = MAX_FRAME_PIXELS) -> None:
    """Refuse a frame size before anything is decoded or allocated for it."""
    if width * height > max_pixels:
        raise FrameTooLarge(
            f"frames of {width}x{height} are larger than max_frame_pixels ({max_pixels})"
        )


class Planes:
    """A decoded video picture's Y, U and V planes (4:2:0, even width and height), possibly views
    of the decoder's own buffers (rows may be padded): detection reads the luma plane and the
    JPEG encoder the three as they are; they are stacked into one yuv420p array (height * 3 / 2
    rows, as FFmpeg lays them out) only for whoever asks for `stacked()`."""

    __slots__ = ("_stacked", "u", "v", "y")

    def __init__(
        self, y: np.ndarray, u: np.ndarray, v: np.ndarray, stacked: np.ndarray | None = None
    ) -> None:
        self.y, self.u, self.v = y, u, v
        self._stacked = stacked

    @classmethod
    def of_stacked(cls, i420: np.ndarray) -> Planes:
        """Views of the planes of a contiguous yuv420p array (height * 3 / 2 rows)."""
        return cls(*jpeg.i420_planes(i420), i420)

    @property
    def width(self) -> int:
        return int(self.y.shape[1])

    @property
    def height(self) -> int:
        return int(self.y.shape[0])

    def stacked(self) -> np.ndarray:
        """The planes in one contiguous yuv420p array (copied once, then kept)."""
        if self._stacked is None:  # a race only stacks twice: the same pixels
            height, width = self.y.shape
            stacked = np.empty((height * 3 // 2, width), np.uint8)
            stacked[:height] = self.y
            view = Planes.of_stacked(stacked)
            view.u[:] = self.u
            view.v[:] = self.v
            self._stacked = stacked
        return self._stacked


@dataclass(frozen=True, eq=False)
class Picture:
    """What a source read: `image` (BGR pixels), `camera_jpeg` (the camera's own bytes) or
    `planes` (a decoded video picture's YUV planes), with its capture times. Capture numbers
    it into a Frame."""

    width: int
    height: int
    captured_at: float
    monotonic: float
    image: np.ndarray | None = None
    camera_jpeg: bytes | None = None
    planes: Planes | None = None

    @classmethod
    def of_image(
        cls, image: np.ndarray, *, captured_at: float | None = None, monotonic: float | None = None
    ) -> Picture:
        height, width = image.shape[:2]
        return cls(width, height, *_times(captured_at, monotonic), image=image)

    @classmethod
    def of_jpeg(
        cls,
        data: bytes,
        width: int,
        height: int,
        *,
        captured_at: float | None = None,
        monotonic: float | None = None,
    ) -> Picture:
        return cls(width, height, *_times(captured_at, monotonic), camera_jpeg=data)

    @classmethod
    def of_i420(cls, i420: np.ndarray, *, captured_at: float, monotonic: float) -> Picture:
        """A decoded video picture (even width and height) as one yuv420p array."""
        return cls.of_planes(Planes.of_stacked(i420), captured_at=captured_at, monotonic=monotonic)

    @classmethod
    def of_planes(cls, planes: Planes, *, captured_at: float, monotonic: float) -> Picture:
        """A decoded video picture kept as its YUV planes: detection reads the luma plane as
        is; BGR or JPEG are made only if someone asks."""
        return cls(planes.width, planes.height, captured_at, monotonic, planes=planes)


def _times(captured_at: float | None, monotonic: float | None) -> tuple[float, float]:
    """(wall clock, monotonic) of a capture, now for the ones not given."""
    return (
        time.time() if captured_at is None else captured_at,
        time.monotonic() if monotonic is None else monotonic,
    )


@dataclass(eq=False)
class Frame:
    """A captured picture, numbered by capture (`seq`). `image` (BGR pixels), `camera_jpeg`
    or `planes` (decoded video, see Picture) is set at creation.

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
    planes: Planes | None = field(default=None, repr=False)
    _jpeg: bytes | None = field(default=None, repr=False)
    _grey: np.ndarray | None = field(default=None, repr=False)  # full-size grey of `image`
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def of(cls, picture: Picture, seq: int, *, online: bool = True) -> Frame:
        return cls(
            seq=seq,
            captured_at=picture.captured_at,
            monotonic=picture.monotonic,
            width=picture.width,
            height=picture.height,
            image=picture.image,
            camera_jpeg=picture.camera_jpeg,
            online=online,
            planes=picture.planes,
        )

    @classmethod
    def from_image(
        cls,
        image: np.ndarray,
        seq: int,
        *,
        captured_at: float | None = None,
        monotonic: float | None = None,
        online: bool = True,
    ) -> Frame:
        picture = Picture.of_image(image, captured_at=captured_at, monotonic=monotonic)
        return cls.of(picture, seq, online=online)

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
        picture = Picture.of_jpeg(data, width, height, captured_at=captured_at, monotonic=monotonic)
        return cls.of(picture, seq)

    @property
    def i420(self) -> np.ndarray | None:
        """Decoded video as one yuv420p array (height * 3 / 2 rows), stacked on first use."""
        return None if self.planes is None else self.planes.stacked()

    @property
    def has_jpeg(self) -> bool:
        return self.camera_jpeg is not None or self._jpeg is not None

    def jpeg(self, quality: int) -> bytes:
        """The JPEG for viewers: the camera's own bytes if it sent JPEG, else encoded once at
        the `quality` of whoever asks first (the camera's live hub).

        Blocking (a few ms for 720p): call it from a worker thread, not the event loop.
        """
        if self.camera_jpeg is not None:
            return self.camera_jpeg
        with self._lock:
            if self._jpeg is None and self.image is None and self.planes is not None:
                planes = self.planes
                self._jpeg = jpeg.encode_planes(planes.y, planes.u, planes.v, quality)
            elif self._jpeg is None:
                assert self.image is not None
                self._jpeg = jpeg.encode(self.image, quality)
            return self._jpeg

    def bgr(self) -> np.ndarray:
        """Full-size BGR pixels, decoding the camera JPEG once if needed."""
        with self._lock:
            if self.image is None and self.planes is not None:
                self.image = cv2.cvtColor(self.planes.stacked(), cv2.COLOR_YUV2BGR_I420)
            elif self.image is None:
                assert self.camera_jpeg is not None
                self.image = jpeg.decode(self.camera_jpeg)
            return self.image

    def grey_small(self, max_width: int) -> np.ndarray:
        """A grey copy no wider than about max_width, cheaply (JPEG DCT scaling when possible)."""
        if self.image is None and self.planes is not None:
            grey = self.planes.y  # the luma plane is the grey picture
        elif self.image is None and self.camera_jpeg is not None:
            grey = jpeg.decode_grey_scaled(self.camera_jpeg, self.width, max_width)
        else:
            if self._grey is None:  # kept: the first look and the detector both start from it
                self._grey = cv2.cvtColor(self.bgr(), cv2.COLOR_BGR2GRAY)
            grey = self._grey
        return shrink_grey(grey, max_width)


def shrink_grey(grey: np.ndarray, max_width: int) -> np.ndarray:
    """A grey image no wider than about max_width (area average), or the image itself."""
    height, width = grey.shape[:2]
    if width <= max_width:
        return grey
    return shrink(grey, (max_width, max(1, round(height * max_width / width))))


# OpenCV's INTER_AREA is vectorised for halving; for a whole factor this large (the detector's
# first look at a 720p or larger camera) summing the blocks in numpy gives the same image in
# about half the time: 1920x1080 to 80x45 takes 0.6 ms instead of 1.1.
LARGE_FACTOR = 12
MAX_FACTOR = 128  # block sums stay exact in float32 (128² x 255 < 2²⁴)


def shrink(grey: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """`grey` resized to `size` (width, height) by area averaging, as cv2.INTER_AREA does it:
    for a whole factor k, each pixel is the float32 sum of its k x k block times 1/k², rounded
    half to even."""
    width, height = size
    rows, cols = grey.shape[:2]
    factor = cols // width
    whole = cols == factor * width and rows == factor * height and grey.ndim == 2
    if not (whole and LARGE_FACTOR <= factor <= MAX_FACTOR and grey.flags.c_contiguous):
        return cv2.resize(grey, size, interpolation=cv2.INTER_AREA)
    columns = grey.reshape(height, factor, cols).sum(axis=1, dtype=np.uint32)
    sums = columns.reshape(height, width, factor).sum(axis=2, dtype=np.uint32)
    scaled = sums.astype(np.float32) * np.float32(1.0 / (factor * factor))
    shrunk: np.ndarray = np.rint(scaled).astype(np.uint8)
    return shrunk
