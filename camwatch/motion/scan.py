"""The live motion detection and event logic, run over a video file as fast as possible."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from dataclasses import dataclass

import av
import numpy as np

from camwatch.config import MotionConfig
from camwatch.motion.detector import DETECT_WIDTH, MotionDetector
from camwatch.motion.look import coarse_of
from camwatch.motion.tracker import EventTracker, TrackedEvent


@dataclass
class ScannedEvent:
    start_s: float  # first significant frame
    end_s: float  # last significant frame
    motion_frames: int
    peak_delta: float

    @classmethod
    def of(cls, event: TrackedEvent) -> ScannedEvent:
        return cls(
            round(event.first_motion_t, 3),
            round(event.last_motion_t, 3),
            event.motion_frames,
            round(event.peak_delta, 3),
        )


def _detect_size(width: int, height: int) -> tuple[int, int]:
    if width <= DETECT_WIDTH:
        return width, height
    return DETECT_WIDTH, max(2, round(height * DETECT_WIDTH / width) & ~1)


GreyFrame = tuple[float, np.ndarray, av.VideoFrame]
READ_AHEAD_FRAMES = 16


def grey_frames(path: str) -> Iterator[GreyFrame]:
    """(seconds from the file's start, small grey image, decoded frame) for every frame.

    Decoding runs on a thread of its own, a few frames ahead, so that it overlaps with motion
    detection (both release the GIL for their heavy parts)."""
    frames: queue.Queue[GreyFrame | BaseException | None] = queue.Queue(READ_AHEAD_FRAMES)
    stop = threading.Event()

    def decode() -> None:
        try:
            for item in _decode_grey(path):
                while not stop.is_set():
                    try:
                        frames.put(item, timeout=0.5)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            frames.put(None)
        except BaseException as error:  # handed to the reader, raised there
            frames.put(error)

    reader = threading.Thread(target=decode, name="scan-decode", daemon=True)
    reader.start()
    try:
        while (item := frames.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        reader.join(5)


def _decode_grey(path: str) -> Iterator[GreyFrame]:
    with av.open(path) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        start: float | None = None
        for frame in container.decode(stream):
            if frame.time is None:
                continue
            start = frame.time if start is None else start
            width, height = _detect_size(frame.width, frame.height)
            grey = frame.reformat(width=width, height=height, format="gray").to_ndarray()
            yield frame.time - start, grey, frame


def scan(path: str, settings: MotionConfig) -> list[ScannedEvent]:
    """The events the live detector and tracker would find in the file."""
    finished: list[TrackedEvent] = []
    detector, tracker = MotionDetector(settings), EventTracker(settings, finished.append)
    for t, grey, _ in grey_frames(path):
        tracker.update(t, detector.update_looking(coarse_of(grey), grey, t))
    tracker.stop()
    return [ScannedEvent.of(event) for event in finished]


def file_fps(path: str) -> float:
    """The file's average frame rate (10 when it does not say)."""
    with av.open(path) as container:
        rate = container.streams.video[0].average_rate
        return float(rate) if rate else 10.0
