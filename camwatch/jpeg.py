"""JPEG encode/decode: libjpeg-turbo through simplejpeg when installed, else OpenCV."""

from __future__ import annotations

import cv2
import numpy as np

try:
    import simplejpeg
except ImportError:  # pragma: no cover - simplejpeg is optional
    simplejpeg = None


class JpegError(ValueError):
    """Bytes that do not decode as a JPEG (a truncated or corrupt frame)."""


def encode(image: np.ndarray, quality: int = 80) -> bytes:
    ok, buffer = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise JpegError("JPEG encoding failed")
    return buffer.tobytes()


def encode_i420(i420: np.ndarray, quality: int = 80) -> bytes:
    """A JPEG straight from yuv420p planes stacked as FFmpeg lays them out (no BGR step)."""
    height = i420.shape[0] * 2 // 3
    width = i420.shape[1]
    if simplejpeg is not None:
        flat = i420.reshape(-1)
        quarter = (width // 2) * (height // 2)
        y = i420[:height]
        u = flat[width * height : width * height + quarter].reshape(height // 2, width // 2)
        v = flat[width * height + quarter :].reshape(height // 2, width // 2)
        data: bytes = simplejpeg.encode_jpeg_yuv_planes(y, u, v, quality=quality)
        return data
    return encode(cv2.cvtColor(i420, cv2.COLOR_YUV2BGR_I420), quality)


def decode(data: bytes) -> np.ndarray:
    """Full-size BGR pixels."""
    if simplejpeg is not None:
        try:
            image: np.ndarray = simplejpeg.decode_jpeg(data, colorspace="BGR")
            return image
        except ValueError as e:
            raise JpegError(str(e)) from None
    decoded = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if decoded is None:
        raise JpegError("not a JPEG image")
    return decoded


def decode_grey_scaled(data: bytes, width: int, target_width: int) -> np.ndarray:
    """A grey image at the smallest DCT scale (1/2, 1/4, 1/8) still at least target_width wide."""
    if simplejpeg is not None:
        try:
            grey = simplejpeg.decode_jpeg(
                data, colorspace="GRAY", min_width=target_width, min_height=1
            )
        except ValueError as e:
            raise JpegError(str(e)) from None
        flat: np.ndarray = grey.reshape(grey.shape[0], grey.shape[1])
        return flat
    scale = 1
    while scale < 8 and width // (scale * 2) >= target_width:
        scale *= 2
    flag = {
        1: cv2.IMREAD_GRAYSCALE,
        2: cv2.IMREAD_REDUCED_GRAYSCALE_2,
        4: cv2.IMREAD_REDUCED_GRAYSCALE_4,
        8: cv2.IMREAD_REDUCED_GRAYSCALE_8,
    }[scale]
    grey = cv2.imdecode(np.frombuffer(data, np.uint8), flag)
    if grey is None:
        raise JpegError("not a JPEG image")
    return grey


def dimensions(data: bytes) -> tuple[int, int]:
    """(width, height) from the JPEG header, without decoding the picture."""
    if simplejpeg is not None:
        try:
            height, width, _, _ = simplejpeg.decode_jpeg_header(data)
            return width, height
        except ValueError as e:
            raise JpegError(str(e)) from None
    image = decode(data)
    return image.shape[1], image.shape[0]
