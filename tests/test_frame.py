"""Frame: the camera's JPEG passed through untouched, pixels encoded once, small grey copies."""

from __future__ import annotations

import threading

import cv2
import numpy as np
import pytest

from camwatch import jpeg
from camwatch.frame import Frame, Picture, shrink
from tests.helpers.media import gradient


def test_camera_jpeg_is_passed_through_byte_for_byte():
    data = jpeg.encode(gradient(), 70)
    frame = Frame.from_jpeg(data, 1, 640, 480)
    assert frame.has_jpeg
    assert frame.jpeg(95) is data  # whatever quality the viewer side asks for


def test_pixels_are_encoded_once_however_many_threads_ask():
    frame = Frame.from_image(gradient(), 1)
    assert not frame.has_jpeg
    results: list[bytes] = []
    start = threading.Barrier(8)

    def ask() -> None:
        start.wait(10)  # all at once, so they really race for the encoder
        results.append(frame.jpeg(80))

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert len(results) == 8 and all(result is results[0] for result in results)
    assert frame.has_jpeg and jpeg.dimensions(results[0]) == (640, 480)


def test_bgr_of_a_camera_jpeg_is_decoded_once():
    frame = Frame.from_jpeg(jpeg.encode(gradient()), 1, 640, 480)
    first = frame.bgr()
    assert first.shape == (480, 640, 3)
    assert frame.bgr() is first


def test_grey_small_from_jpeg_and_from_pixels_agree():
    image = gradient(1280, 720)
    from_pixels = Frame.from_image(image, 1).grey_small(320)
    camera = Frame.from_jpeg(jpeg.encode(image, 95), 1, 1280, 720)
    from_jpeg = camera.grey_small(320)
    assert from_pixels.shape == from_jpeg.shape == (180, 320)
    assert np.abs(from_pixels.astype(int) - from_jpeg.astype(int)).mean() < 3
    assert camera.image is None  # the small grey copy did not decode the full picture


def test_grey_small_never_enlarges():
    assert Frame.from_image(gradient(160, 120), 1).grey_small(320).shape == (120, 160)


def test_a_picture_numbered_by_capture_keeps_its_pixels_and_times():
    image = gradient()
    picture = Picture.of_image(image, captured_at=1e9, monotonic=5.0)
    frame = Frame.of(picture, 42)
    assert (frame.seq, frame.captured_at, frame.monotonic, frame.online) == (42, 1e9, 5.0, True)
    assert frame.image is image and (frame.width, frame.height) == (640, 480)
    data = jpeg.encode(image, 70)
    frame = Frame.of(Picture.of_jpeg(data, 640, 480), 43, online=False)
    assert frame.camera_jpeg is data and frame.image is None and not frame.online


def test_the_encoding_quality_is_the_callers():
    small = Frame.from_image(gradient(), 1).jpeg(20)
    large = Frame.from_image(gradient(), 1).jpeg(95)
    assert len(small) < len(large)


@pytest.mark.parametrize(
    ("rows", "cols", "size"),
    [
        (1080, 1920, (80, 45)),  # a 1080p camera's first look: factor 24
        (720, 1280, (80, 45)),  # factor 16
        (1440, 2560, (80, 45)),  # factor 32
        (1080, 1920, (320, 180)),  # factor 6: OpenCV's own resize
        (480, 640, (80, 60)),  # factor 8
        (1080, 1920, (100, 56)),  # not a whole factor
    ],
)
def test_shrinking_a_grey_image_is_exactly_opencvs_area_resize(rows, cols, size):
    rng = np.random.default_rng(rows + cols + size[0])
    for image in (
        rng.integers(0, 256, (rows, cols), dtype=np.uint8),
        np.full((rows, cols), 255, np.uint8),  # the largest block sums
        (np.indices((rows, cols)).sum(axis=0) % 256).astype(np.uint8),  # ties in rounding
    ):
        expected = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
        assert np.array_equal(shrink(image, size), expected)
