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


# Decoded video is "video range" (Y 16-235, C 16-240); JPEG is full range (0-255).
_LUMA_GAIN, _CHROMA_GAIN = 255 / 219, 255 / 224


def full_range(i420: np.ndarray) -> np.ndarray:
    """Video-range yuv420p planes (stacked as FFmpeg lays them out) stretched to full range:
    round((Y - 16) * 255 / 219) and round((C - 128) * 255 / 224 + 128), clipped to 0-255."""
    height = i420.shape[0] * 2 // 3
    full = np.empty_like(i420)
    _stretch(i420[:height], _LUMA_GAIN, 16, dst=full[:height])
    _stretch(i420[height:], _CHROMA_GAIN, 128, base=128, dst=full[height:])
    return full


def _stretch(
    plane: np.ndarray, gain: float, offset: int, *, base: int = 0, dst: np.ndarray | None = None
) -> np.ndarray:
    """(plane - offset) * gain + base, rounded and clipped: one saturating multiply-add
    (cv2.addWeighted), about half what a lookup table costs."""
    return cv2.addWeighted(plane, gain, plane, 0.0, base - offset * gain, dst=dst)


def encode_planes(y: np.ndarray, u: np.ndarray, v: np.ndarray, quality: int = 80) -> bytes:
    """A JPEG straight from a decoded picture's video-range 4:2:0 planes (views of the
    decoder's buffers will do; no BGR step): each is stretched to JPEG's full range first."""
    if simplejpeg is None:  # one array, as FFmpeg stacks the planes (a chroma row is half one)
        stacked = np.concatenate([y.ravel(), u.ravel(), v.ravel()]).reshape(-1, y.shape[1])
        return encode(cv2.cvtColor(stacked, cv2.COLOR_YUV2BGR_I420), quality)
    data: bytes = simplejpeg.encode_jpeg_yuv_planes(
        _stretch(y, _LUMA_GAIN, 16),
        _stretch(u, _CHROMA_GAIN, 128, base=128),
        _stretch(v, _CHROMA_GAIN, 128, base=128),
        quality=quality,
    )
    return data


def i420_planes(i420: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Views of the Y, U and V planes of a contiguous yuv420p array (height * 3 / 2 rows, as
    FFmpeg lays them out)."""
    height, width = i420.shape[0] * 2 // 3, i420.shape[1]
    flat = i420.reshape(-1)
    quarter = (width // 2) * (height // 2)
    u = flat[width * height : width * height + quarter].reshape(height // 2, width // 2)
    v = flat[width * height + quarter :].reshape(height // 2, width // 2)
    return i420[:height], u, v


def encode_i420(i420: np.ndarray, quality: int = 80) -> bytes:
    """A JPEG straight from video-range yuv420p planes stacked as FFmpeg lays them out."""
    return encode_planes(*i420_planes(i420), quality)


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


# Start-of-frame markers (baseline, progressive, lossless...); C4, C8 and CC are other segments.
_SOF_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
_STANDALONE_MARKERS = frozenset({0x01, 0xD8, *range(0xD0, 0xD8)})


def dimensions(data: bytes) -> tuple[int, int]:
    """(width, height) as the JPEG's frame header declares them: read from the marker
    segments, so a header claiming 30000x30000 costs nothing to read (nor to refuse)."""
    if not data.startswith(b"\xff\xd8"):
        raise JpegError("not a JPEG image")
    i = 2
    while i + 4 <= len(data):
        if data[i] != 0xFF:
            raise JpegError("not a JPEG marker where one should be")
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker in _STANDALONE_MARKERS:
            i += 2
            continue
        if marker in _SOF_MARKERS and i + 9 <= len(data):
            height = int.from_bytes(data[i + 5 : i + 7], "big")
            width = int.from_bytes(data[i + 7 : i + 9], "big")
            if not width or not height:
                raise JpegError("the JPEG declares no size")
            return width, height
        if marker == 0xDA:  # start of scan: the frame header should have come first
            break
        i += 2 + int.from_bytes(data[i + 2 : i + 4], "big")
    raise JpegError("no frame header in the JPEG")
