"""Motion masks: the configured polygons (0-1 coordinates) rasterised for a detection image."""

from __future__ import annotations

import cv2
import numpy as np

Polygons = list[list[list[float]]]


def rasterise(polygons: Polygons, shape: tuple[int, int]) -> np.ndarray:
    """uint8 image of `shape` (height, width): 1 where motion counts, 0 inside any polygon."""
    height, width = shape
    active = np.ones((height, width), np.uint8)
    # pixel i spans [i, i + 1) of x * width; fillPoly puts pixel centres on whole numbers
    points = [
        np.array([[x * width - 0.5, y * height - 0.5] for x, y in polygon], np.float32)
        for polygon in polygons
    ]
    if points:
        # 2 fractional bits keep small polygons' shapes at detection resolution
        cv2.fillPoly(active, [np.round(p * 4).astype(np.int32) for p in points], 0, shift=2)
    return active


class MaskCache:
    """The rasterised mask for the current settings and image size, rebuilt only on change."""

    def __init__(self) -> None:
        self._polygons: Polygons | None = None
        self._shape: tuple[int, int] | None = None
        self.active: np.ndarray | None = None  # None: no mask, every pixel counts
        self.active_count = 0

    def update(self, polygons: Polygons, shape: tuple[int, int]) -> None:
        if polygons == self._polygons and shape == self._shape:
            return
        self._polygons = [[list(p) for p in polygon] for polygon in polygons]
        self._shape = shape
        self.active = rasterise(polygons, shape) if polygons else None
        self.active_count = (
            int(cv2.countNonZero(self.active)) if self.active is not None else shape[0] * shape[1]
        )
