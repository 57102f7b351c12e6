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
) -> np.ndarray:
    """How much brighter each pixel's lighting is in `frame` (grey levels, uint8 or float) than in
    `background` (float32), as a float32 image.

    Lighting is taken as a multiplicative gain that varies smoothly over the picture (lights,
    exposure, flicker, cloud shadows): the median brightness ratio in each cell of a coarse grid,
    interpolated between cell centres. `unusable` pixels (true: masked or clipped) are left out
    of the estimate, and so are pixels `moving` (non-zero): a cell without enough others takes
    the overall gain. Medians also ignore anything new covering less than half a cell, and a
    cell may not stray far from its neighbours.
    """
    height, width = frame.shape
    rows, cols = grid_shape(height, width)
    s = SAMPLE_STRIDE
    cell_h, cell_w = -(-height // s) // rows, -(-width // s) // cols  # in samples
    # The samples of whole cells (_cells would drop the remainder).
    sampled = (slice(0, rows * cell_h * s, s), slice(0, cols * cell_w * s, s))
    frame_s, background_s = frame[sampled], background[sampled]
    # On the strided samples: few passes, no needless temporaries (a uint8 frame reads faster)
    ratio = np.add(frame_s, np.float32(BLACK_LEVEL), dtype=np.float32)
    ratio /= background_s + np.float32(BLACK_LEVEL)
    if unusable is not None:
        np.copyto(ratio, np.float32(np.nan), where=unusable[sampled])
    gains = counts = None
    if moving is not None and moving.shape == frame.shape and moving.any():
        without_moving = np.where(moving[sampled] > 0, np.float32(np.nan), ratio)
        cells = _cells(without_moving, rows, cols)
        clean, clean_counts = _median_ignoring_nan(cells)
        enough = clean_counts >= MIN_CLEAN_SHARE * cells.shape[2]
        if enough.any():  # cells mostly covered by moving things take their lighting elsewhere
            gains, counts = clean, np.where(enough, clean_counts, 0)
    if gains is None or counts is None:  # nothing moved, or it covers every cell
        gains, counts = _median_ignoring_nan(_cells(ratio, rows, cols))
    gains = _fill_empty(gains, counts)
    if rows >= 3 and cols >= 3:
        # lighting varies smoothly: a cell far from most of its neighbours holds an object
        typical = cv2.medianBlur(gains, 3)
        gains = np.clip(gains, typical * (1 - CELL_FREEDOM), typical * (1 + CELL_FREEDOM))
    return _interpolate(gains, height, width, scratch)


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


def _median_ignoring_nan(cells: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-cell (lower) median of the samples that are not NaN, and their counts."""
    ordered = np.sort(cells, axis=2)  # NaN sorts last
    counts = np.count_nonzero(~np.isnan(cells), axis=2)
    middle = np.maximum(counts - 1, 0)[..., None] // 2
    return np.take_along_axis(ordered, middle, axis=2)[..., 0].astype(np.float32), counts


def _fill_empty(gains: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Cells without usable samples take the overall median gain, or 1."""
    empty = counts == 0
    if empty.any():
        usable = gains[~empty]
        gains[empty] = float(median(usable)) if usable.size else 1.0
    return gains


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
