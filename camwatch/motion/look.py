"""The first look: a coarse grey image against a coarse background, to skip still frames."""

from __future__ import annotations

import math

import cv2
import numpy as np

LOOK_WIDTH = 80  # the first look is about this wide (1/8 of a 640-wide camera: its DCT DC terms)
LOOK_NOISE_FACTOR = 4.0  # a cell changed when its mean moved more than this x the typical step
LOOK_LEVEL_SHARE = 0.25  # ... and more than this share of pixel_threshold (grey levels)
LOOK_NOISE_SECONDS = 1.0  # memory of the look's frame-to-frame noise level


def coarse_size(width: int, height: int) -> tuple[int, int]:
    """(width, height) of the first look's image for a picture of this size."""
    if width <= LOOK_WIDTH:
        return width, height
    return LOOK_WIDTH, max(1, round(height * LOOK_WIDTH / width))


def coarse_of(grey: np.ndarray) -> np.ndarray:
    """The first look's image made from a larger grey image (area average)."""
    height, width = grey.shape[:2]
    size = coarse_size(width, height)
    if size == (width, height):
        return grey
    if _quarters(grey, size) and grey.dtype == np.uint8:
        # OpenCV halves by area far faster than it quarters (4 us against 40 at 320x240); in
        # floats two halvings give each 4x4 block's sum / 16 exactly, rounded half to even
        # as INTER_AREA rounds it: the same image.
        quarter = _halved(_halved(grey.astype(np.float32)))
        coarse: np.ndarray = np.rint(quarter, out=quarter).astype(np.uint8)
        return coarse
    return cv2.resize(grey, size, interpolation=cv2.INTER_AREA)


def _quarters(image: np.ndarray, size: tuple[int, int]) -> bool:
    """Whether `size` (width, height) is a quarter of the image's each way."""
    height, width = image.shape[:2]
    return (width, height) == (4 * size[0], 4 * size[1])


def _halved(image: np.ndarray) -> np.ndarray:
    height, width = image.shape[:2]
    half: np.ndarray = cv2.resize(image, (width // 2, height // 2), interpolation=cv2.INTER_AREA)
    return half


class FirstLook:
    """Each cell of a coarse image against a coarse background that follows the scene like the
    full model's: whether anything may have changed (moved, or the lighting) since the scene
    was last still. A cell counts as changed when its mean moved by more than
    LOOK_NOISE_FACTOR x the picture's typical frame-to-frame step at this scale and by more
    than LOOK_LEVEL_SHARE of pixel_threshold; cells that are masked are ignored."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self._background: np.ndarray | None = None
        self._previous: np.ndarray | None = None
        self._whole = False  # whether _previous holds grey levels (from a uint8 image)
        self._noise = 0.0  # typical frame-to-frame step of a cell (median absolute deviation)
        self._ignored: np.ndarray | None = None  # true where a cell is wholly masked
        self.cells: np.ndarray | None = None  # 255 where the last look saw change (None: none)

    def ignore(self, active: np.ndarray | None) -> None:
        """The detection image's mask (0 where masked, None: no mask), for cells to ignore."""
        if active is None or self._background is None:
            self._ignored = None
            return
        height, width = self._background.shape
        area: np.ndarray = cv2.resize(active, (width, height), interpolation=cv2.INTER_AREA)
        self._ignored = area == 0

    def changed(self, coarse: np.ndarray, pixel_threshold: float, dt: float) -> bool:
        """Whether a cell differs from the background beyond noise (True on the first frame).
        Learns the noise level; the background is left to `learn`."""
        frame = coarse.astype(np.float32)
        background, previous, self._previous = self._background, self._previous, frame
        whole, self._whole = self._whole, coarse.dtype == np.uint8
        if background is None or background.shape != frame.shape:
            self._background, self._ignored, self.cells = frame.copy(), None, None
            return True
        assert previous is not None
        spread = _step_spread(frame - previous, whole and self._whole)
        self._noise += _rate(dt, LOOK_NOISE_SECONDS) * (spread - self._noise)
        difference: np.ndarray = cv2.absdiff(frame, background)
        if self._ignored is not None:
            difference[self._ignored] = 0.0
        limit = max(LOOK_NOISE_FACTOR * 1.4826 * self._noise, LOOK_LEVEL_SHARE * pixel_threshold)
        if cv2.minMaxLoc(difference)[1] <= limit:
            self.cells = None
            return False
        self.cells = cv2.threshold(difference, limit, 255, cv2.THRESH_BINARY)[1].astype(np.uint8)
        return True

    def learn(self, rate_still: float, rate_moving: float, moving: np.ndarray | None) -> None:
        """Follow the last frame: at `rate_still` where nothing moved, `rate_moving` in cells
        where the full model saw change (`moving`: its 0/255 detection-size image)."""
        frame, background = self._previous, self._background
        if frame is None or background is None:
            return
        if moving is None or cv2.countNonZero(moving) == 0:
            cv2.accumulateWeighted(frame, background, rate_still)
            return
        height, width = background.shape
        if _quarters(moving, (width, height)):  # a cell with any moving pixel: halving twice
            area = _halved(_halved(moving))  # keeps it above 0 (255 / 4 / 4 rounds to 16)
        else:
            area = cv2.resize(moving, (width, height), interpolation=cv2.INTER_AREA)
        busy = cv2.threshold(area, 0, 255, cv2.THRESH_BINARY)[1]
        cv2.accumulateWeighted(frame, background, rate_still, cv2.bitwise_not(busy))
        cv2.accumulateWeighted(frame, background, rate_moving, busy)

    def recalibrate(self) -> None:
        """The full model took the frame as its new background: so does the look."""
        if self._previous is not None:
            self._background = self._previous.copy()


def _step_spread(step: np.ndarray, whole: bool) -> float:
    """The median absolute deviation of the frame-to-frame step from its median: a change of
    the whole picture's brightness (flicker, exposure) is not noise, and must not make the look
    blind to what moves meanwhile. `whole`: the steps are whole grey levels (the frames were
    uint8), so both medians are found by counting levels, not by partitioning floats."""
    if not whole:
        middle = _median(step)
        return _median(np.abs(step - np.float32(middle)))
    levels = step.astype(np.int16)  # exact: whole numbers from -255 to 255
    middle_level = _level_median(levels, 255)
    return float(_level_median(np.abs(levels - np.int16(middle_level)), 0))


def _level_median(levels: np.ndarray, offset: int) -> int:
    """_median of whole numbers >= -offset: the same element, found in a histogram."""
    counts = np.bincount(levels.ravel() + np.int16(offset))
    return int(np.searchsorted(np.cumsum(counts), levels.size // 2, side="right")) - offset


def _median(values: np.ndarray) -> float:
    """The upper middle element of the values (the median when their count is odd)."""
    flat = values.ravel()
    return float(np.partition(flat, flat.size // 2)[flat.size // 2])


def _rate(dt: float, seconds: float) -> float:
    return 1.0 - math.exp(-dt / seconds)
