"""MotionDetector: delta is the percentage of pixels whose grey level moved past pixel_threshold."""

import numpy as np
import pytest

from camwatch.config import MotionConfig
from camwatch.motion import MotionDetector


def test_delta_is_percentage_of_changed_pixels():
    detector = MotionDetector(MotionConfig(pixel_threshold=25))
    still = np.full((100, 200), 100, np.uint8)
    moved = still.copy()
    moved[20:60, 50:100] = 200  # 40 x 50 = 10% of the frame
    assert detector.update(still) == 0.0
    assert detector.update(still) == 0.0
    assert detector.update(moved) == pytest.approx(10.0, abs=1.0)


def test_small_grey_changes_and_noise_are_ignored():
    rng = np.random.default_rng(1)
    detector = MotionDetector(MotionConfig(pixel_threshold=25))
    base = rng.integers(80, 120, (90, 160), dtype=np.uint8)
    detector.update(base)
    noisy = np.clip(base.astype(int) + rng.integers(-8, 9, base.shape), 0, 255).astype(np.uint8)
    assert detector.update(noisy) < 0.1
