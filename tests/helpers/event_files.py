"""Real event files for index, API and media tests: small fragmented H.264 MP4s and thumbnails."""

from __future__ import annotations

import itertools
import struct
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from camwatch.recording.index import EventRecord, EventStore
from camwatch.recording.paths import clip_paths

FRAGMENTED = {"movflags": "frag_keyframe+empty_moov+default_base_moof"}
FPS = 10
KEYFRAME_EVERY = 10  # one fragment per second at 10 fps


@pytest.fixture
def store(tmp_path: Path) -> Iterator[EventStore]:
    """An empty event index in a fresh data dir."""
    store = EventStore(tmp_path / "data")
    yield store
    store.close()


def files_of(store: EventStore, record: EventRecord) -> list[Path]:
    return [store.data_dir / record.video_path, store.data_dir / record.thumbnail_path]


def picture(i: int, width: int = 64, height: int = 48) -> np.ndarray:
    image = np.full((height, width, 3), 40, np.uint8)
    x = (i * 3) % max(1, width - 8)
    cv2.rectangle(image, (x, height // 4), (x + 8, height // 2), (30, 200, 240), -1)
    return image


def write_fragmented_clip(
    path: Path, frames: int, *, fps: int = FPS, width: int = 64, height: int = 48
) -> Path:
    """H.264 (yuv420p) in a fragmented MP4, as the clip writer makes them: millisecond
    timestamps i * 1000 / fps, a keyframe (and so a new fragment) every KEYFRAME_EVERY frames."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w", format="mp4", options=FRAGMENTED) as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.time_base = Fraction(1, 1000)
        stream.codec_context.time_base = Fraction(1, 1000)
        stream.options = {"preset": "ultrafast", "g": str(KEYFRAME_EVERY)}
        for i in range(frames):
            frame = av.VideoFrame.from_ndarray(picture(i, width, height), format="bgr24")
            frame.pts, frame.time_base = round(i * 1000 / fps), Fraction(1, 1000)
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return path


def write_thumbnail(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    ok, data = cv2.imencode(".jpg", picture(0))
    assert ok
    path.write_bytes(data.tobytes())
    return path


def make_event(
    data_dir: Path,
    event_id: str,
    started_at: float,
    *,
    camera: str = "cam",
    frames: int = 10,
    status: str = "complete",
    thumbnail: bool = True,
) -> EventRecord:
    """Files where the recorder puts them, and the record it would index (not yet added)."""
    video, thumb = clip_paths(data_dir, camera, started_at, event_id)
    write_fragmented_clip(video, frames)
    if thumbnail:
        write_thumbnail(thumb)
    return EventRecord(
        id=event_id,
        camera=camera,
        started_at=started_at,
        ended_at=None if status == "recording" else started_at + (frames - 1) / FPS,
        frames=frames,
        motion_frames=frames // 2,
        peak_delta=4.5,
        video_path=str(video.relative_to(data_dir)),
        thumbnail_path=str(thumb.relative_to(data_dir)),
        size_bytes=0 if status == "recording" else video.stat().st_size,
        status=status,
    )


def add_event(
    store: EventStore, event_id: str, started_at: float, **options: object
) -> EventRecord:
    record = make_event(store.data_dir, event_id, started_at, **options)  # type: ignore[arg-type]
    store.add(record)
    return record


def top_level_boxes(path: Path) -> list[tuple[int, str, int]]:
    """(offset, type, size) of each top-level MP4 box."""
    data = path.read_bytes()
    boxes, offset = [], 0
    while offset + 8 <= len(data):
        size, kind = struct.unpack(">I4s", data[offset : offset + 8])
        if size < 8:
            break  # not a box (or one that runs to the end): stop rather than guess
        boxes.append((offset, kind.decode("latin-1"), size))
        offset += size
    return boxes


def whole_fragments(path: Path) -> int:
    """How many complete fragments (a moof and its whole mdat) a fragmented MP4 has on disk;
    0 while it does not exist yet."""
    try:
        length = path.stat().st_size
        boxes = top_level_boxes(path)
    except FileNotFoundError:
        return 0
    complete = [kind for offset, kind, size in boxes if offset + size <= length]
    return sum(1 for a, b in itertools.pairwise(complete) if (a, b) == ("moof", "mdat"))


def cut_inside_last_fragment(path: Path) -> int:
    """Truncate the file part way into its last fragment's data, as a crash would; returns the
    offset where the last fragment began (what a repaired file keeps)."""
    boxes = top_level_boxes(path)
    moof, mdat = [b for b in boxes if b[1] == "moof"][-1], [b for b in boxes if b[1] == "mdat"][-1]
    with open(path, "r+b") as file:
        file.truncate(mdat[0] + mdat[2] // 2)
    return moof[0]


def write_clip_with_audio(path: Path, frames: int, *, fps: int = FPS, rate: int = 16000) -> Path:
    """Like write_fragmented_clip, with an AAC track (a 440 Hz tone) as long as the video."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w", format="mp4", options=FRAGMENTED) as container:
        video = container.add_stream("libx264", rate=fps)
        video.width, video.height, video.pix_fmt = 64, 48, "yuv420p"
        video.time_base = video.codec_context.time_base = Fraction(1, 1000)
        video.options = {"preset": "ultrafast", "g": str(KEYFRAME_EVERY)}
        audio = container.add_stream("aac", rate=rate)
        audio.layout = "mono"
        samples = round(frames / fps * rate)
        tone = (0.2 * np.sin(2 * np.pi * 440 * np.arange(samples) / rate)).astype(np.float32)
        for i in range(frames):
            frame = av.VideoFrame.from_ndarray(picture(i), format="bgr24")
            frame.pts, frame.time_base = round(i * 1000 / fps), Fraction(1, 1000)
            for packet in video.encode(frame):
                container.mux(packet)
        for offset in range(0, samples - 1023, 1024):
            chunk = av.AudioFrame.from_ndarray(tone[None, offset : offset + 1024], "fltp", "mono")
            chunk.sample_rate, chunk.pts = rate, offset
            for packet in audio.encode(chunk):
                container.mux(packet)
        for stream in (video, audio):
            for packet in stream.encode(None):
                container.mux(packet)
    return path
