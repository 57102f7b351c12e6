"""Lighting changes between a frame and the background: a smooth gain map, and undoing it."""

from __future__ import annotations

import math
from typing import Any

import cv2
import numpy as np

BLACK_LEVEL = 8.0  # added before dividing so dark pixels do not make wild ratios
SATURATED = 230.0  # (blurred) grey level from which a pixel may be partly clipped at white
CLIPPED_SHARE = 0.1  # a background pixel learnt this much from clipped frames is unreliable
SAMPLE_STRIDE = 3  # the gain is estimated on every 3rd pixel of every 3rd row
CELL_PIXELS = 24  # one gain per cell of about this size (detection image pixels)
CELL_FREEDOM = 0.08  # how far a cell's gain may stray from the median of its neighbours


def grid_shape(height: int, width: int) -> tuple[int, int]:
    sample_h, sample_w = -(-height // SAMPLE_STRIDE), -(-width // SAMPLE_STRIDE)
    rows = max(1, min(sample_h, round(height / CELL_PIXELS)))
    cols = max(1, min(sample_w, round(width / CELL_PIXELS)))
    return rows, cols


MIN_CLEAN_SHARE = 0.3  # a cell needs this share of samples outside moving things to use only them
MOVING_CELL_SHARE = 0.1  # ... and no more than this share moving: the rest is likely it too
TEXTURE_SHARE = 0.75  # x pixel_threshold: ratios spread wider in a cell are not lighting
TEXTURE_NOISE = 2.0  # ... nor wider than this x the picture's frame-to-frame step


def texture_limit(pixel_threshold: float, step_variance: float) -> float:
    """How far a cell's brightness ratios may spread (grey levels) for lighting alone, in a
    picture whose frame-to-frame steps have this variance: lighting scales the background's
    pattern, an object brings its own."""
    return max(TEXTURE_SHARE * pixel_threshold, TEXTURE_NOISE * math.sqrt(step_variance))


class Scratch:
    """Float images of the detection size reused from frame to frame for per-frame temporaries:
    a fresh 300 KB array per step each frame costs page faults (glibc returns big blocks to the
    kernel) and pushes the model's own images out of the cache."""

    def __init__(self) -> None:
        self._buffers: dict[str, np.ndarray] = {}

    def image(self, name: str, shape: tuple[int, ...]) -> np.ndarray:
        """The float32 image called `name`, of this shape (contents undefined, contiguous): the
        same memory for any shape up to the largest asked for (a camera may change size)."""
        size = math.prod(shape)
        buffer = self._buffers.get(name)
        if buffer is None or buffer.size < size:
            buffer = self._buffers[name] = np.empty(size, np.float32)
        return buffer[:size].reshape(shape)

    def keep(self, name: str, replacement: np.ndarray) -> None:
        """The caller keeps the last `name` image for itself: `replacement` (a contiguous float32
        image it no longer uses) becomes that image's memory, saving the copy."""
        self._buffers[name] = replacement.reshape(-1)


def gain_map(
    frame: np.ndarray,
    background: np.ndarray,
    unusable: np.ndarray | None = None,
    moving: np.ndarray | None = None,
    scratch: Scratch | None = None,
    texture_limit: float | None = None,
) -> np.ndarray:
    """How much brighter each pixel's lighting is in `frame` (grey levels, uint8 or float) than in
    `background` (float32), as a float32 image.

    Lighting is taken as a multiplicative gain that varies smoothly over the picture (lights,
    exposure, flicker, cloud shadows): the median brightness ratio in each cell of a coarse grid,
    interpolated between cell centres. `unusable` pixels (true: masked or clipped) are left out
    of the estimate, and so are pixels `moving` (non-zero), and whole cells where more than
    MOVING_CELL_SHARE moved (a textured object is found with holes, and those are it too).
    Lighting scales the background's own pattern, so a cell whose ratios spread by more than
    `texture_limit` (grey levels, between the quartiles) holds something else. Cells without a
    gain of their own take their neighbours'. Medians also ignore anything new covering less
    than half a cell, and a cell may not stray far from its neighbours.
    """
    height, width = frame.shape
    rows, cols = grid_shape(height, width)
    s = SAMPLE_STRIDE
    cell_h, cell_w = -(-height // s) // rows, -(-width // s) // cols  # in samples
    # The samples of whole cells (_cells would drop the remainder).
    sampled = (slice(0, rows * cell_h * s, s), slice(0, cols * cell_w * s, s))
    frame_s = frame[sampled]
    # On the strided samples: few passes, no needless temporaries (a uint8 frame reads faster)
    levels = np.add(background[sampled], np.float32(BLACK_LEVEL), dtype=np.float32)
    ratio = np.add(frame_s, np.float32(BLACK_LEVEL), dtype=np.float32)
    ratio /= levels
    left_out = None if unusable is None else unusable[sampled]
    if left_out is not None:
        np.copyto(ratio, np.float32(np.nan), where=left_out)
    stats = None
    if moving is not None and moving.shape == frame.shape and moving.any():
        moved = moving[sampled] > 0
        stats = _clean_quartiles(ratio, moved, left_out, rows, cols)
    if stats is None:  # nothing moved, or it covers every cell
        counts = _counts(left_out, rows, cols, cell_h * cell_w)
        stats = (*_quartiles_ignoring_nan(_cells(ratio, rows, cols), counts), counts == 0)
    lower, gains, upper, empty = stats
    if texture_limit is not None:
        empty = _or_textured(lower, upper, empty, levels, texture_limit)
    gains = _fill_empty(gains, empty)
    if rows >= 3 and cols >= 3:
        # lighting varies smoothly: a cell far from most of its neighbours holds an object
        typical = cv2.medianBlur(gains, 3)
        gains = np.clip(gains, typical * (1 - CELL_FREEDOM), typical * (1 + CELL_FREEDOM))
    return _interpolate(gains, height, width, scratch)


CellStats = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]  # quartiles, and empty cells


def _clean_quartiles(
    ratio: np.ndarray, moved: np.ndarray, left_out: np.ndarray | None, rows: int, cols: int
) -> CellStats | None:
    """Quartiles of each cell's ratios outside moving things (`moved`, of the samples), and the
    cells with too few left or too many moved (None: that is every cell)."""
    cells = _cells(np.where(moved, np.float32(np.nan), ratio), rows, cols)
    samples = cells.shape[2]
    moved_share = _shares(moved, rows, cols)
    empty = moved_share > np.float32(MOVING_CELL_SHARE)
    if left_out is None:  # the usual case: one share gives both
        counts = np.rint((1 - moved_share) * samples).astype(np.intp)
    else:
        counts = _counts(moved | left_out, rows, cols, samples)
        empty |= counts < MIN_CLEAN_SHARE * samples
    if empty.all():
        return None
    return (*_quartiles_ignoring_nan(cells, counts), empty)


def _shares(flags: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """The share of each cell's samples that are true (float32), by area averaging."""
    share: np.ndarray = cv2.resize(
        flags.view(np.uint8).astype(np.float32), (cols, rows), interpolation=cv2.INTER_AREA
    )
    return share


def _counts(left_out: np.ndarray | None, rows: int, cols: int, samples: int) -> np.ndarray:
    """How many of each cell's `samples` are not `left_out` (None: none are)."""
    if left_out is None:
        return np.full((rows, cols), samples, np.intp)
    kept: np.ndarray = samples - np.rint(_shares(left_out, rows, cols) * samples)
    return kept.astype(np.intp)


def _or_textured(
    lower: np.ndarray, upper: np.ndarray, empty: np.ndarray, levels: np.ndarray, limit: float
) -> np.ndarray:
    """`empty`, and the cells whose ratios spread (between the quartiles, in grey levels of the
    background: `levels` of the samples) beyond `limit`; unless that is every cell."""
    rows, cols = empty.shape
    level: np.ndarray = cv2.resize(levels, (cols, rows), interpolation=cv2.INTER_AREA)
    spread: np.ndarray = cv2.subtract(upper, lower)
    spread *= level
    either = (spread > np.float32(limit)) | empty
    return empty if either.all() else either


def _interpolate(
    gains: np.ndarray, height: int, width: int, scratch: Scratch | None = None
) -> np.ndarray:
    """Bilinear between cell centres, extrapolated linearly to the picture's edges."""
    rows, cols = gains.shape
    if rows < 2 or cols < 2:
        return cv2.resize(gains, (width, height), interpolation=cv2.INTER_LINEAR)
    padded = _pad_linear(gains)
    cell_h, cell_w = height / rows, width / cols
    size = (round(width + 2 * cell_w), round(height + 2 * cell_h))
    big = cv2.resize(
        padded,
        size,
        dst=None if scratch is None else scratch.image("gain", (size[1], size[0])),
        interpolation=cv2.INTER_LINEAR,
    )
    top, left = round(cell_h), round(cell_w)
    return big[top : top + height, left : left + width]  # a view: the caller only reads it


def _pad_linear(gains: np.ndarray) -> np.ndarray:
    """One more cell on every side, continuing the edge's slope (2 * edge - next): what
    np.pad(mode="reflect", reflect_type="odd") gives, without its overhead per call."""
    rows, cols = gains.shape
    padded = np.empty((rows + 2, cols + 2), gains.dtype)
    padded[1:-1, 1:-1] = gains
    padded[0, 1:-1] = 2 * gains[0] - gains[1]
    padded[-1, 1:-1] = 2 * gains[-1] - gains[-2]
    padded[:, 0] = 2 * padded[:, 1] - padded[:, 2]
    padded[:, -1] = 2 * padded[:, -2] - padded[:, -3]
    return padded


def _cells(samples: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """(rows, cols, samples per cell) view of a sample image cut into a grid."""
    cell_h, cell_w = samples.shape[0] // rows, samples.shape[1] // cols
    return (
        samples[: cell_h * rows, : cell_w * cols]
        .reshape(rows, cell_h, cols, cell_w)
        .transpose(0, 2, 1, 3)
        .reshape(rows, cols, cell_h * cell_w)
    )


def _quartiles_ignoring_nan(
    cells: np.ndarray, counts: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per cell, the lower quartile, (lower) median and upper quartile (float32) of the samples
    that are not NaN, `counts` of them (NaN sorts last)."""
    rows, cols, samples = cells.shape
    ordered = np.sort(cells.reshape(rows * cols, samples), axis=1).ravel()
    last = counts.reshape(1, rows * cols) - 1
    np.maximum(last, 0, out=last)
    picks = last * _QUARTILE_STEPS
    picks += _QUARTILE_ROUNDING
    picks //= 4
    picks += np.arange(0, rows * cols * samples, samples)
    lower, middle, upper = ordered[picks].reshape(3, rows, cols)
    return lower, middle, upper


_QUARTILE_STEPS = np.array([[1], [2], [3]])  # (k * last + rounding) // 4: the quartiles' places
_QUARTILE_ROUNDING = np.array([[0], [0], [3]])


def _fill_empty(gains: np.ndarray, empty: np.ndarray) -> np.ndarray:
    """Cells without a gain of their own (`empty`) take the mean gain of those with one within
    2 cells, or else their median (all 1 when none has one)."""
    if not empty.any():
        return gains
    if empty.all():
        return np.ones_like(gains)
    known = np.subtract(1, empty, dtype=np.float32)
    weighted = gains * known
    cv2.patchNaNs(weighted, 0.0)  # an empty cell's gain may be NaN
    near = cv2.boxFilter(known, -1, (5, 5), normalize=False, borderType=cv2.BORDER_CONSTANT)
    sums = cv2.boxFilter(weighted, -1, (5, 5), normalize=False, borderType=cv2.BORDER_CONSTANT)
    if cv2.minMaxLoc(near)[0] == 0:  # some cells are further from any with a gain
        far = near == 0
        sums[far], near[far] = median(gains[~empty]), 1.0
    filled = np.array(gains, np.float32)
    np.divide(sums, near, out=filled, where=empty)
    return filled


def median(values: np.ndarray) -> np.floating[Any]:
    """np.median of a flat array without NaNs, in its dtype, with less overhead per call."""
    middle = values.size // 2
    if values.size % 2:
        odd: np.floating[Any] = np.partition(values, middle)[middle]
        return odd
    # One kth and the largest below it: numpy's partition with two kths is ~10x slower.
    part = np.partition(values, middle)
    even: np.floating[Any] = (part[:middle].max() + part[middle]) / values.dtype.type(2)
    return even


def magnitude_median(values: np.ndarray) -> np.floating[Any]:
    """median() of a flat float32 array of values >= 0 (no NaN): selected on their bit patterns,
    which order as the values do. A histogram of their top bits (BIT_BINS) finds the bin
    holding the middle, and only that bin's values are partitioned: 35-45 us for 8560 values
    where partitioning them all took 55-70."""
    bits, middle = values.view(np.int32), values.size // 2
    bins = bits >> BIT_BINS
    ends = np.cumsum(np.bincount(bins))  # how many values lie in each bin and below
    if values.size % 2:
        return _bit_kth(bits, bins, ends, middle)
    even: np.floating[Any] = (
        _bit_kth(bits, bins, ends, middle - 1) + _bit_kth(bits, bins, ends, middle)
    ) / np.float32(2)
    return even


BIT_BINS = 18  # magnitude_median's bins: values with the same top 13 bits (1/32 of an octave)


def _bit_kth(bits: np.ndarray, bins: np.ndarray, ends: np.ndarray, k: int) -> np.floating[Any]:
    """The k-th smallest (from 0) of float32 values given as their bit patterns, by bin."""
    bin_index = int(np.searchsorted(ends, k, side="right"))
    rank = k - (int(ends[bin_index - 1]) if bin_index else 0)
    inside = bits[bins == bin_index]
    kth: np.floating[Any] = np.partition(inside, rank)[rank : rank + 1].view(np.float32)[0]
    return kth


def residual(
    frame: np.ndarray,
    background: np.ndarray,
    gain: np.ndarray,
    frame_clipped: np.ndarray | None = None,
    background_clipped: np.ndarray | None = None,
    scratch: Scratch | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """(frame under the background's lighting, its difference from the background).

    Where the frame or the background may be clipped at white (boolean images) the true level
    is unknown but at least as bright, so a difference clipping explains counts as none.
    """
    # In place, and each step by whichever of numpy and OpenCV is faster at it (numpy with a
    # scalar, OpenCV with two images, the gain being a strided view): the same IEEE results.
    shape = frame.shape
    relit = np.add(
        frame,
        np.float32(BLACK_LEVEL),
        out=None if scratch is None else scratch.image("relit", shape),
    )
    cv2.divide(relit, gain, dst=relit)
    relit -= np.float32(BLACK_LEVEL)
    difference: np.ndarray = cv2.subtract(
        relit, background, dst=None if scratch is None else scratch.image("difference", shape)
    )
    if background_clipped is not None:
        np.minimum(difference, np.float32(0), out=difference, where=background_clipped)
    if frame_clipped is not None:
        np.maximum(difference, np.float32(0), out=difference, where=frame_clipped)
    return relit, difference
