"""TimedDetector: the detector on a camera frame, its time and frame count added up."""

from __future__ import annotations

import numpy as np
import pytest

from camwatch.config import MotionConfig
from camwatch.frame import Frame
from camwatch.jpeg import JpegError
from camwatch.motion.timed import TimedDetector


def test_each_frame_is_counted_and_timed_and_the_foreground_follows():
    detection = TimedDetector(MotionConfig())
    assert detection.foreground is None
    for i in range(5):
        image = np.full((240, 320, 3), 40 * i % 255, np.uint8)
        delta = detection.update(Frame.from_image(image, i + 1, captured_at=i, monotonic=i / 10))
        assert delta >= 0
    assert detection.count == 5 and detection.seconds > 0
    assert detection.foreground is not None and detection.foreground.shape[1] <= 320


def test_a_corrupt_camera_jpeg_raises_and_is_not_counted():
    detection = TimedDetector(MotionConfig())
    frame = Frame.from_jpeg(b"\xff\xd8junk", 1, 320, 240, captured_at=0.0, monotonic=0.0)
    with pytest.raises(JpegError):
        detection.update(frame)
    assert detection.count == 0
