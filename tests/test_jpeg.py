"""jpeg: encode/decode round trip, DCT-scaled grey decoding, header sizes, corrupt input."""

from __future__ import annotations

import av
import numpy as np
import pytest

from camwatch import jpeg
from tests.helpers.media import gradient


def test_round_trip_keeps_size_and_colours():
    image = gradient()
    decoded = jpeg.decode(jpeg.encode(image, 90))
    assert decoded.shape == image.shape
    assert np.abs(decoded.astype(int) - image.astype(int)).mean() < 3


def test_dimensions_come_from_the_header():
    assert jpeg.dimensions(jpeg.encode(gradient(320, 200))) == (320, 200)


@pytest.mark.parametrize(
    ("target", "expected_width"),
    [(640, 640), (320, 320), (300, 320), (160, 160), (100, 160), (50, 80)],
)
def test_grey_is_decoded_at_the_smallest_dct_scale_still_wide_enough(target, expected_width):
    data = jpeg.encode(gradient(640, 480))
    grey = jpeg.decode_grey_scaled(data, 640, target)
    assert grey.ndim == 2
    assert grey.shape == (expected_width * 3 // 4, expected_width)


def test_scaled_grey_matches_the_full_picture_averaged():
    image = gradient()
    grey = jpeg.decode_grey_scaled(jpeg.encode(image, 95), 640, 160)
    luma = 0.114 * image[..., 0] + 0.587 * image[..., 1] + 0.299 * image[..., 2]
    averaged = luma.reshape(120, 4, 160, 4).mean(axis=(1, 3))
    assert np.abs(grey - averaged).mean() < 3


@pytest.mark.parametrize("data", [b"", b"not a jpeg at all", b"\xff\xd8\xff\xe0" + b"\0" * 40])
def test_corrupt_input_raises_jpeg_error(data):
    with pytest.raises(jpeg.JpegError):
        jpeg.decode(data)
    with pytest.raises(jpeg.JpegError):
        jpeg.decode_grey_scaled(data, 640, 320)


def test_jpeg_of_decoded_video_keeps_black_black_and_white_white():
    rgb = np.zeros((240, 320, 3), np.uint8)
    rgb[:, 160:] = 255
    rgb[100:140, :160] = (255, 0, 0)
    i420 = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format="yuv420p").to_ndarray()
    assert (i420[50, 50], i420[50, 250]) == (16, 235)  # video range, as decoders deliver it
    back = jpeg.decode(jpeg.encode_planes(*jpeg.i420_planes(i420), 90))
    assert back[50, 50].max() <= 2 and back[50, 250].min() >= 253  # full range in the JPEG
    assert back[120, 50][2] >= 250 and back[120, 50][:2].max() <= 5  # red stays red


def test_video_range_planes_are_stretched_to_full_range_exactly():
    values = np.arange(256, dtype=np.uint8)
    i420 = np.empty((6, 256), np.uint8)  # 4 rows of luma, 2 of chroma, every value in each
    i420[:] = values
    full = jpeg.full_range(i420).astype(int)
    exact = values.astype(float)
    luma = np.clip(np.round((exact - 16) * 255 / 219), 0, 255)
    chroma = np.clip(np.round((exact - 128) * 255 / 224 + 128), 0, 255)
    assert (full[:4] == luma).all()
    assert (full[4:] == chroma).all()
    assert (full[0, 16], full[0, 235], full[4, 16], full[4, 128], full[4, 240]) == (
        0,
        255,
        0,
        128,
        255,
    )


@pytest.mark.parametrize("with_simplejpeg", [True, False])
def test_planes_of_a_picture_with_an_odd_number_of_chroma_rows_encode(monkeypatch, with_simplejpeg):
    rgb = np.zeros((250, 320, 3), np.uint8)  # 125 chroma rows: not a whole number of luma rows
    rgb[:, 160:] = 255
    rgb[100:140, :160] = (255, 0, 0)
    i420 = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format="yuv420p").to_ndarray()
    if not with_simplejpeg:  # the OpenCV fallback, as where simplejpeg is not installed
        monkeypatch.setattr(jpeg, "simplejpeg", None)
    back = jpeg.decode(jpeg.encode_planes(*jpeg.i420_planes(i420), 90))
    assert back.shape == (250, 320, 3)
    assert back[50, 50].max() <= 4 and back[50, 250].min() >= 251
    assert back[120, 50][2] >= 248 and back[120, 50][:2].max() <= 8
