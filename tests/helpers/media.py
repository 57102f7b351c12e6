"""ffprobe helpers for checking the files camwatch writes."""

from __future__ import annotations

import json
import random
import subprocess
from pathlib import Path
from typing import Any

import numpy as np


def probe(path: Path | str) -> dict[str, Any]:
    """ffprobe's view of the first video stream plus the container duration and frame count."""
    result = subprocess.run(
        [
            "ffprobe",
            "-v",
            "error",
            "-count_frames",
            "-select_streams",
            "v:0",
            "-show_entries",
            "stream=codec_name,profile,pix_fmt,color_range,width,height,nb_read_frames:format=duration",
            "-of",
            "json",
            str(path),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    data = json.loads(result.stdout)
    stream = data["streams"][0]
    return {
        **stream,
        "duration": float(data["format"].get("duration", 0) or 0),
        "frames": int(stream.get("nb_read_frames", 0)),
    }


def gradient(width: int = 640, height: int = 480) -> np.ndarray:
    x = np.linspace(0, 255, width, dtype=np.float32)
    y = np.linspace(0, 255, height, dtype=np.float32)[:, None]
    grey = ((x + y) / 2).astype(np.uint8)
    return np.dstack([grey, 255 - grey, np.full_like(grey, 90)])


def motion_video(
    path: Path, *, seconds: float = 6.0, fps: int = 10, size: tuple[int, int] = (320, 240)
) -> Path:
    """A block crossing a still scene the whole time: looped, there is motion without end."""
    import cv2

    width, height = size
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"mp4v"), fps, size)
    for i in range(int(seconds * fps)):
        image = np.full((height, width, 3), 70, np.uint8)
        x = (i * 7) % (width - 40)
        cv2.rectangle(image, (x, height // 4), (x + 40, height * 3 // 4), (230, 230, 230), -1)
        writer.write(image)
    writer.release()
    return path


def corrupt_video(folder: Path) -> Path:
    """An H.264 MP4 with bytes of its frames overwritten: it opens, and every few frames fail
    to decode (FFmpeg prints a few lines for each)."""
    clean = folder / "clean.mp4"
    source = ["-f", "lavfi", "-i", "testsrc=size=320x240:rate=10", "-t", "6"]
    encode = ["-c:v", "libx264", "-g", "10", "-pix_fmt", "yuv420p"]
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", *source, *encode, str(clean)],
        check=True,
        timeout=60,
    )
    data = bytearray(clean.read_bytes())
    start, end = data.find(b"mdat") + 64, data.find(b"moov")
    end = end if end > start else len(data)
    rng = random.Random(3)
    for _ in range(400):
        data[rng.randrange(start, end)] = rng.randrange(256)
    path = folder / "corrupt.mp4"
    path.write_bytes(bytes(data))
    return path
