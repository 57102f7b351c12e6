"""Test videos with known motion: a noisy still scene, a box moving in given intervals."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np


def scene(width: int, height: int, seed: int = 7) -> np.ndarray:
    rng = np.random.default_rng(seed)
    small = rng.integers(60, 190, (max(2, height // 24), max(2, width // 24), 3), dtype=np.uint8)
    return cv2.GaussianBlur(
        cv2.resize(small, (width, height), interpolation=cv2.INTER_CUBIC), (0, 0), 2
    )


def frame_at(
    background: np.ndarray,
    t: float,
    intervals: Sequence[tuple[float, float]],
    rng: np.random.Generator,
    flicker_at: Sequence[float] = (),
    fps: float = 10,
) -> np.ndarray:
    """The scene at time t: a box crossing during each interval, sensor noise always."""
    height, width = background.shape[:2]
    image = background.copy()
    noise = rng.integers(-3, 4, image.shape, dtype=np.int16)
    image = np.clip(image.astype(np.int16) + noise, 0, 255).astype(np.uint8)
    for start, end in intervals:
        if start <= t < end:
            progress = (t - start) / max(end - start, 1e-6)
            box = max(8, width // 8)
            x = int(progress * (width - box))
            y = height // 2 - box // 2
            cv2.rectangle(image, (x, y), (x + box, y + box), (20, 20, 230), -1)
    if any(abs(t - f) < 0.5 / fps for f in flicker_at):
        image = cv2.add(image, np.full_like(image, 90))
    return image


def write_clip(
    path: Path,
    duration_s: float,
    intervals: Sequence[tuple[float, float]] = (),
    *,
    fps: int = 10,
    width: int = 320,
    height: int = 240,
    flicker_at: Sequence[float] = (),
    preset: str = "ultrafast",
    crf: int = 18,
) -> Path:
    """An H.264 MP4 with motion exactly during `intervals` (seconds), and optional 1-frame
    brightness flickers at `flicker_at` (x264's `ultrafast` has no loop filter; `veryfast` has)."""
    rng = np.random.default_rng(11)
    background = scene(width, height)
    images = (
        frame_at(background, i / fps, intervals, rng, flicker_at, fps)
        for i in range(round(duration_s * fps))
    )
    return write_h264(path, images, fps=fps, preset=preset, crf=crf)


def write_h264(
    path: Path, images: Iterable[np.ndarray], *, fps: int, preset: str = "ultrafast", crf: int = 18
) -> Path:
    """An H.264 MP4 (libx264, yuv420p) of BGR or grey `images`, one every 1/fps seconds; its
    size is the first image's."""
    with av.open(str(path), "w") as container:
        stream: av.video.stream.VideoStream | None = None
        for i, image in enumerate(images):
            colour = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR) if image.ndim == 2 else image
            if stream is None:
                stream = container.add_stream("libx264", rate=fps)
                stream.height, stream.width = colour.shape[:2]
                stream.pix_fmt = "yuv420p"
                stream.options = {"preset": preset, "crf": str(crf)}
            frame = av.VideoFrame.from_ndarray(colour, format="bgr24")
            frame.pts, frame.time_base = i, Fraction(1, fps)
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None) if stream is not None else []:
            container.mux(packet)
    return path
