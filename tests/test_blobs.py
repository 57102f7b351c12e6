"""Blobs through their set pixels: the same areas, touches and selections as OpenCV's statistics."""

import cv2
import numpy as np
import pytest

from camwatch.motion.blobs import Blobs, SetPixels, bounding_box, without_solid_blobs


def speckled(seed: int, shape: tuple[int, int] = (60, 80)) -> np.ndarray:
    """A 0/255 image of random specks and blobs somewhere in it (at its edges too)."""
    rng = np.random.default_rng(seed)
    image = np.zeros(shape, np.uint8)
    top, left = int(rng.integers(0, shape[0] // 2)), int(rng.integers(0, shape[1] // 2))
    height, width = int(rng.integers(1, shape[0] - top)), int(rng.integers(1, shape[1] - left))
    image[top : top + height, left : left + width] = (rng.random((height, width)) > 0.55) * 255
    return image


@pytest.mark.parametrize("seed", range(8))
def test_set_pixels_are_the_images_non_zero_pixels_in_order(seed: int) -> None:
    image = speckled(seed)
    pixels = SetPixels.of(image)
    assert np.array_equal(pixels.flat, np.flatnonzero(image))
    x, y, width, height = pixels.box
    assert np.array_equal(pixels.local, np.flatnonzero(image[y : y + height, x : x + width]))
    fewer = image.copy()
    fewer[::2] = 0
    within = pixels.within(fewer)
    assert np.array_equal(within.flat, np.flatnonzero(fewer))
    assert within.box == pixels.box
    empty = SetPixels.of(np.zeros_like(image))
    assert empty.count == 0 and empty.box[2] == 0


@pytest.mark.parametrize("seed", range(8))
def test_blobs_have_opencvs_areas_touches_and_selections(seed: int) -> None:
    image = speckled(seed)
    blobs = Blobs(image, SetPixels.of(image, bounding_box(image)))
    count, labels, stats, _ = cv2.connectedComponentsWithStats(image, connectivity=8)
    assert blobs.count == count
    # Labels may be numbered otherwise: compare the blobs as sets of pixels.
    ours = {tuple(np.flatnonzero(blobs.select(np.arange(1, count) == i))) for i in range(1, count)}
    theirs = {tuple(np.flatnonzero(labels == i)) for i in range(1, count)}
    assert ours == theirs
    area_of = {
        tuple(np.flatnonzero(labels == i)): stats[i, cv2.CC_STAT_AREA] for i in range(1, count)
    }
    for i in range(1, count):
        only = np.arange(1, count) == i
        assert blobs.areas[i - 1] == area_of[tuple(np.flatnonzero(blobs.select(only)))]
    mask = np.zeros_like(image)
    mask[: image.shape[0] // 2] = 1
    touched = blobs.touched(mask)
    for i in range(1, count):
        pixels = np.flatnonzero(blobs.select(np.arange(1, count) == i))
        assert touched[i - 1] == bool(mask.ravel()[pixels].any())


def test_solid_blobs_are_taken_out_and_fragments_kept() -> None:
    image = np.zeros((100, 100), np.uint8)
    image[10:40, 10:40] = 255  # 900 px: solid (1% is 100)
    image[70, 70] = image[80, 20] = 255  # specks
    kept = without_solid_blobs(image, SetPixels.of(image))
    assert np.array_equal(np.flatnonzero(kept), [70 * 100 + 70, 80 * 100 + 20])
    specks_only = kept.copy()
    assert without_solid_blobs(specks_only, SetPixels.of(specks_only)) is specks_only
