"""The live motion detection and event logic, run over a video file as fast as possible."""

from __future__ import annotations

import itertools
import queue
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TypeVar

import av
import cv2
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


Item = TypeVar("Item")
GreyFrame = tuple[float, np.ndarray, av.VideoFrame]
TimedFrame = tuple[float, av.VideoFrame]
READ_AHEAD_FRAMES = 16
DECODE_BATCH_PIXELS = 16 * 640 * 480  # a few MB of decoded frames held at once


def grey_frames(path: str, *, deblock: bool = True) -> Iterator[GreyFrame]:
    """(seconds from the file's start, small grey image, decoded frame) for every frame.

    Decoding runs on a thread of its own, a few frames ahead, so that it overlaps with motion
    detection (both release the GIL for their heavy parts). `deblock=False` skips the H.264 /
    HEVC loop filter: a quarter less decoding, for frames only detection looks at (the
    detection image is a blurred half-size copy, where block edges barely show; motion_eval's
    clips give the same events either way: bench/scan_decode_check.py)."""
    return _read_ahead((t, detection_grey(frame), frame) for t, frame in _decode(path, deblock))


def batched_frames(path: str, *, deblock: bool = True) -> Iterator[TimedFrame]:
    """(seconds from the file's start, decoded frame) for every frame, decoded as grey_frames
    does but in the caller's thread, a batch of DECODE_BATCH_PIXELS at a time (16 frames at
    640x480), leaving the grey image to the caller (detection_grey) for the frames it needs.
    Per CPU second this is the cheapest: a decoding thread costs about a tenth more CPU (cache
    traffic between cores, waking threads), and decoding a batch, then detecting on it, keeps
    each one's working set in the caches (bench/RESULTS.md)."""
    frames = _decode(path, deblock)
    first = next(frames, None)
    if first is None:
        return
    yield first
    per_batch = max(1, DECODE_BATCH_PIXELS // (first[1].width * first[1].height))
    while batch := list(itertools.islice(frames, per_batch)):
        yield from batch


def _read_ahead(items: Iterator[Item]) -> Iterator[Item]:
    """The items, taken from `items` on a thread of its own, up to READ_AHEAD_FRAMES ahead."""
    queued: queue.Queue[Item | BaseException | None] = queue.Queue(READ_AHEAD_FRAMES)
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                while not stop.is_set():
                    try:
                        queued.put(item, timeout=0.5)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            queued.put(None)
        except BaseException as error:  # handed to the reader, raised there
            queued.put(error)

    reader = threading.Thread(target=produce, name="scan-decode", daemon=True)
    reader.start()
    try:
        while (item := queued.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        reader.join(5)


def _decode(path: str, deblock: bool) -> Iterator[TimedFrame]:
    with av.open(path) as container:
        stream = container.streams.video[0]
        # Per CPU second FFmpeg's own threads cost more than they give: frame threads a fifth
        # more CPU on a 640x480 stream, slice threads (idle on a single-slice stream) still
        # 3-10% more for the whole scan (bench/RESULTS.md).
        stream.thread_type = "NONE"
        if not deblock:
            stream.codec_context.options = {"skip_loop_filter": "all"}
        start: float | None = None
        for frame in container.decode(stream):
            if frame.time is None:
                continue
            start = frame.time if start is None else start
            yield frame.time - start, frame


# 8-bit planar formats whose first plane is the luma (Y) as it is, at full size
_LUMA_FIRST = {"yuv420p", "yuvj420p", "yuv422p", "yuvj422p", "yuv444p", "yuvj444p", "nv12", "nv21"}
# video range (Y 16-235) to full range, as FFmpeg's conversion to "gray" does it
_VIDEO_TO_FULL = np.clip(np.round((np.arange(256) - 16) * 255 / 219), 0, 255).astype(np.uint8)


def detection_grey(frame: av.VideoFrame) -> np.ndarray:
    """The frame as the detection image: a full-range grey copy DETECT_WIDTH wide (at most)."""
    return _grey(frame, *_detect_size(frame.width, frame.height))


def _grey(frame: av.VideoFrame, width: int, height: int) -> np.ndarray:
    """The frame as a full-range grey image of (width, height): its luma plane area-averaged
    (a tenth of swscale's cost for the usual formats), else through swscale."""
    if frame.format.name not in _LUMA_FIRST:
        grey: np.ndarray = frame.reformat(width=width, height=height, format="gray").to_ndarray()
        return grey
    plane = frame.planes[0]
    rows = np.frombuffer(memoryview(plane), np.uint8).reshape(plane.height, plane.line_size)
    luma = rows[:, : plane.width]
    small: np.ndarray = (
        cv2.resize(luma, (width, height), interpolation=cv2.INTER_AREA)
        if (width, height) != (plane.width, plane.height)
        else luma.copy()
    )
    if frame.format.name.startswith("yuvj") or frame.color_range == 2:  # 2: JPEG (full) range
        return small
    full: np.ndarray = cv2.LUT(small, _VIDEO_TO_FULL)
    return full


def scan(path: str, settings: MotionConfig) -> list[ScannedEvent]:
    """The events the live detector and tracker would find in the file."""
    finished: list[TrackedEvent] = []
    detector, tracker = MotionDetector(settings), EventTracker(settings, finished.append)
    for t, frame in batched_frames(path, deblock=False):
        delta = detector.paced(t)  # a frame the busy pace holds is not even made grey
        if delta is None:
            grey = detection_grey(frame)
            delta = detector.update_looking(coarse_of(grey), grey, t)
        tracker.update(t, delta)
    tracker.stop()
    return [ScannedEvent.of(event) for event in finished]


def file_fps(path: str) -> float:
    """The file's average frame rate (10 when it does not say)."""
    with av.open(path) as container:
        rate = container.streams.video[0].average_rate
        return float(rate) if rate else 10.0
