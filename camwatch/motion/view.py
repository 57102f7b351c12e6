"""Motion view: what the detector counts as moving, and the masked areas, as a transparent PNG."""

from __future__ import annotations

import cv2
import numpy as np

from camwatch.motion.mask import Polygons, rasterise

MOVING_RGBA = (239, 68, 68, 170)  # red, see-through: the picture stays visible under it
MASKED_RGBA = (15, 23, 42, 140)  # dark: areas where motion is ignored


def overlay_png(foreground: np.ndarray, mask: Polygons) -> bytes:
    """An RGBA PNG the size of the detection image: moving pixels red, masked areas dark,
    everything else transparent. The browser stretches it over the live picture."""
    height, width = foreground.shape[:2]
    rgba = np.zeros((height, width, 4), np.uint8)
    if mask:
        rgba[rasterise(mask, (height, width)) == 0] = _bgra(MASKED_RGBA)
    rgba[foreground > 0] = _bgra(MOVING_RGBA)
    ok, png = cv2.imencode(".png", rgba, [cv2.IMWRITE_PNG_COMPRESSION, 1])
    if not ok:
        raise ValueError("PNG encoding failed")
    return png.tobytes()


def _bgra(rgba: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
    red, green, blue, alpha = rgba
    return blue, green, red, alpha
