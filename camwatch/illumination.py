"""Illumination change between a frame and the background: a smooth per-region gain map."""

from __future__ import annotations

import cv2
import numpy as np

BLACK_LEVEL = 8.0  # added before dividing so dark pixels do not make wild ratios
SAMPLE_STRIDE = 4  # the gain is estimated on every 4th pixel of every 4th row
CELL_PIXELS = 40   # one gain per cell of about this size (detection image pixels)


def grid_shape(height: int, width: int) -> tuple[int, int]:
    sample_h, sample_w = -(-height // SAMPLE_STRIDE), -(-width // SAMPLE_STRIDE)
    rows = max(1, min(sample_h, round(height / CELL_PIXELS)))
    cols = max(1, min(sample_w, round(width / CELL_PIXELS)))
    return rows, cols


def gain_map(frame: np.ndarray, background: np.ndarray,
             active: np.ndarray | None = None) -> np.ndarray:
    """How much brighter each pixel's lighting is in `frame` than in `background` (float32).

    Lighting is taken as a multiplicative gain that varies smoothly over the picture (lights,
    exposure, flicker, cloud shadows): the median brightness ratio of each cell of a coarse grid,
    interpolated between cell centres. Medians ignore objects covering less than half a cell.
    `active` (uint8, 0 = masked) keeps masked areas out of the estimate.
    """
    height, width = frame.shape
    rows, cols = grid_shape(height, width)
    s = SAMPLE_STRIDE
    ratio = (frame[::s, ::s] + BLACK_LEVEL) / (background[::s, ::s] + BLACK_LEVEL)
    if active is not None:
        ratio = np.where(active[::s, ::s] > 0, ratio, np.nan)
    cell_h, cell_w = ratio.shape[0] // rows, ratio.shape[1] // cols
    cells = (ratio[:cell_h * rows, :cell_w * cols]
             .reshape(rows, cell_h, cols, cell_w).transpose(0, 2, 1, 3)
             .reshape(rows, cols, cell_h * cell_w))
    if active is None:
        gains = np.median(cells, axis=2)
    else:
        gains = _nan_median_filled(cells)
    return cv2.resize(gains.astype(np.float32), (width, height), interpolation=cv2.INTER_LINEAR)


def _nan_median_filled(cells: np.ndarray) -> np.ndarray:
    """Per-cell median ignoring masked samples; fully masked cells take the overall median."""
    valid = ~np.isnan(cells)
    if not valid.any():
        return np.ones(cells.shape[:2], np.float32)
    gains = np.full(cells.shape[:2], float(np.median(cells[valid])), np.float32)
    usable = valid.any(axis=2)
    gains[usable] = np.nanmedian(cells[usable], axis=1)
    return gains


def relight(frame: np.ndarray, gain: np.ndarray) -> np.ndarray:
    """`frame` as it would look under the background's lighting."""
    return (frame + BLACK_LEVEL) / gain - BLACK_LEVEL
