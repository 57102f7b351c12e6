"""The region of a busy frame the full motion model runs on, and the catch-up elsewhere."""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

REGION_MARGIN = 8  # detection pixels around what changed: the blur, the opening, the dilation
# of the last changes and the look's coarse cells all reach a few pixels further
WHOLE_SHARE = 0.7  # a region larger than this share of the picture: the whole picture instead
WHOLE_SECONDS = 1.0  # the full model sees the whole picture at least this often

Span = tuple[slice, slice]  # rows and columns of the picture
Spans = list[tuple[Span, float]]  # parts of the picture, each with the seconds to learn over


@dataclass(frozen=True)
class Region:
    """A rectangle of the detection image (rows top..bottom, columns left..right, exclusive)."""

    top: int
    bottom: int
    left: int
    right: int
    height: int  # the picture's
    width: int

    @classmethod
    def whole(cls, shape: tuple[int, ...]) -> Region:
        return cls(0, shape[0], 0, shape[1], shape[0], shape[1])

    @property
    def is_whole(self) -> bool:
        return (self.top, self.left, self.bottom, self.right) == (0, 0, self.height, self.width)

    @property
    def shape(self) -> tuple[int, int]:
        """The region's own image's."""
        return self.bottom - self.top, self.right - self.left

    @property
    def slices(self) -> tuple[slice, slice]:
        return slice(self.top, self.bottom), slice(self.left, self.right)

    @property
    def share(self) -> float:
        """The share of the picture inside."""
        return (self.bottom - self.top) * (self.right - self.left) / (self.height * self.width)

    def to_picture(self, flat: np.ndarray) -> np.ndarray:
        """Flat indices into the region's own image as flat indices into the picture."""
        if self.is_whole:
            return flat
        rows, columns = np.divmod(flat, self.right - self.left)
        rows += self.top
        rows *= self.width
        rows += columns
        rows += self.left
        return rows

    def embed(self, image: np.ndarray) -> np.ndarray:
        """A picture-sized uint8 image: `image` (the region's) inside, 0 outside."""
        if self.is_whole:
            return image
        picture = np.zeros((self.height, self.width), image.dtype)
        picture[self.slices] = image
        return picture

    def around(self, other: Region) -> Region:
        """The smallest region holding both."""
        return Region(
            min(self.top, other.top),
            max(self.bottom, other.bottom),
            min(self.left, other.left),
            max(self.right, other.right),
            self.height,
            self.width,
        )

    def part(self, image: np.ndarray, span: Span) -> np.ndarray:
        """The part of `image` (this region's own) at `span` (picture slices, within it)."""
        if self.is_whole:
            return image[span]
        rows, columns = span
        return image[
            rows.start - self.top : rows.stop - self.top,
            columns.start - self.left : columns.stop - self.left,
        ]

    def outside(self) -> list[tuple[slice, slice]]:
        """The rest of the picture as up to four bands (above, below, left, right)."""
        rows = slice(self.top, self.bottom)
        bands = [
            (slice(0, self.top), slice(0, self.width)),
            (slice(self.bottom, self.height), slice(0, self.width)),
            (rows, slice(0, self.left)),
            (rows, slice(self.right, self.width)),
        ]
        return [(r, c) for r, c in bands if r.stop > r.start and c.stop > c.start]


def bounding_region(
    cells: np.ndarray | None, changed: np.ndarray, shape: tuple[int, ...]
) -> Region | None:
    """The rectangle of a picture of `shape` around the first look's changed cells (`cells`:
    its coarse image, non-zero where changed) and the full model's last changes (`changed`,
    0/255 of the picture), with REGION_MARGIN; None when there is neither, or it is most of
    the picture (then the whole picture costs less than a region and the catch-up)."""
    height, width = shape[:2]
    top, bottom, left, right = height, 0, width, 0
    if cells is not None and cells.size:
        x, y, w, h = cv2.boundingRect(cells)
        if w:
            scale_y, scale_x = height / cells.shape[0], width / cells.shape[1]
            top, bottom = math.floor(y * scale_y), math.ceil((y + h) * scale_y)
            left, right = math.floor(x * scale_x), math.ceil((x + w) * scale_x)
    if changed.shape == (height, width):
        x, y, w, h = cv2.boundingRect(changed)
        if w:
            top, bottom = min(top, y), max(bottom, y + h)
            left, right = min(left, x), max(right, x + w)
    if bottom <= top:
        return None
    region = Region(
        max(0, top - REGION_MARGIN),
        min(height, bottom + REGION_MARGIN),
        max(0, left - REGION_MARGIN),
        min(width, right + REGION_MARGIN),
        height,
        width,
    )
    return None if region.share > WHOLE_SHARE else region


def catch_up(
    blurred: np.ndarray,
    background: np.ndarray,
    region: Region,
    rate: float,
    clipping: tuple[np.ndarray, np.ndarray] | None = None,
) -> None:
    """Outside `region` the first look saw nothing change: the background follows the frame
    (`blurred`, uint8) there at `rate`, as a still scene's does, and so does the share of
    clipping, when kept (`clipping`: the frame's 0/1 uint8 image, the share)."""
    for band in region.outside():
        cv2.accumulateWeighted(blurred[band], background[band], rate)
        if clipping is not None:
            cv2.accumulateWeighted(clipping[0][band], clipping[1][band], rate)


class RegionClock:
    """Whether the next run of the full model may be limited to a region: not when it last saw
    the whole picture WHOLE_SECONDS ago, so the noise, restlessness and lighting it learns only
    where it runs stay current everywhere."""

    def __init__(self) -> None:
        self._since_whole = math.inf

    def allows(self, dt: float) -> bool:
        """Whether a region may be used, `dt` seconds after the last run."""
        self._since_whole += dt
        return self._since_whole < WHOLE_SECONDS - 0.01

    def ran(self, region: Region | None) -> None:
        if region is None or region.is_whole:
            self._since_whole = 0.0


class Coverage:
    """What the region runs since the last whole picture reached (the rectangle around them)
    and how long ago that whole picture was: a whole run learns the pixels they did not reach
    over all the time it missed there, not one frame's, so what a passing object taught them
    (a high noise level) fades as fast as when every run saw the whole picture."""

    def __init__(self) -> None:
        self._seconds = 0.0
        self._reached: Region | None = None

    def spans(self, region: Region, dt: float) -> Spans:
        """(picture slices, seconds) to learn a run on `region` over, `dt` after the last."""
        self._seconds += dt
        if not region.is_whole:
            reached = self._reached
            self._reached = region if reached is None else reached.around(region)
            return [(region.slices, dt)]
        reached, missed = self._reached, self._seconds
        self._reached, self._seconds = None, 0.0
        if reached is None:
            return [(region.slices, dt)]
        return [(reached.slices, dt)] + [(band, missed) for band in reached.outside()]
