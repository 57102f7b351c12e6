"""Motion view: the overlay PNG of moving pixels and masked areas, alone and from a live server."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from camwatch.config import CameraConfig, MotionConfig
from camwatch.motion.mask import rasterise
from camwatch.motion.view import MASKED_RGBA, MOVING_RGBA, overlay_png
from tests.helpers.support import ServerThread, demo_config, wait_until

LEFT_QUARTER = [[[0.0, 0.0], [0.25, 0.0], [0.25, 1.0], [0.0, 1.0]]]


def decode_rgba(png: bytes) -> np.ndarray:
    bgra = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_UNCHANGED)
    assert bgra is not None and bgra.shape[2] == 4
    return cv2.cvtColor(bgra, cv2.COLOR_BGRA2RGBA)


def test_moving_pixels_are_red_masked_areas_dark_the_rest_transparent():
    foreground = np.zeros((60, 80), np.uint8)
    foreground[20:30, 40:50] = 255
    foreground[0:5, 0:5] = 255  # inside the mask: what moves there is still shown
    rgba = decode_rgba(overlay_png(foreground, LEFT_QUARTER))
    assert rgba.shape == (60, 80, 4)
    assert tuple(rgba[25, 45]) == MOVING_RGBA
    assert tuple(rgba[2, 2]) == MOVING_RGBA
    assert tuple(rgba[50, 10]) == MASKED_RGBA
    assert rgba[50, 60, 3] == 0 and rgba[10, 70, 3] == 0
    masked = rasterise(LEFT_QUARTER, (60, 80)) == 0
    assert (rgba[..., 3] > 0).sum() == masked.sum() + 100  # the 25 moving in the mask overlap


def test_the_server_shows_the_detectors_view_of_a_live_camera(tmp_path: Path):
    config = demo_config(str(tmp_path))
    config.cameras = [
        CameraConfig(
            name="cam",
            source="demo",
            fps=10,
            width=320,
            height=240,
            motion=MotionConfig(mask=LEFT_QUARTER),
        ),
        CameraConfig(
            name="off",
            source="demo",
            fps=10,
            width=320,
            height=240,
            motion=MotionConfig(enabled=False),
        ),
    ]
    with ServerThread(config) as server:

        def figure_shown() -> list[np.ndarray]:
            status, headers, body = server.get("/cameras/cam/motion.png")
            assert status in (200, 503), (status, body)  # 503: no detector image yet
            if status != 200:
                return []
            assert headers["Content-Type"] == "image/png"
            assert headers["Cache-Control"] == "no-store"
            rgba = decode_rgba(body)
            moving = np.all(rgba == MOVING_RGBA, axis=2).sum()
            return [rgba] if moving > 50 else []

        [rgba] = wait_until(figure_shown, timeout=60, message="the demo figure in red")
        width = rgba.shape[1]
        assert np.all(rgba[:, : width // 5] == MASKED_RGBA, axis=2).mean() > 0.9
        status, _, body = server.get("/cameras/off/motion.png")
        assert status == 404 and b"motion detection is off" in body
        assert server.get("/cameras/nobody/motion.png")[0] == 404
