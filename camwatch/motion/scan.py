"""The live motion detection and event logic, run over a video file as fast as possible."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from dataclasses import dataclass

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


GreyFrame = tuple[float, np.ndarray, av.VideoFrame]
READ_AHEAD_FRAMES = 16


def grey_frames(path: str, *, deblock: bool = True) -> Iterator[GreyFrame]:
    """(seconds from the file's start, small grey image, decoded frame) for every frame.

    Decoding runs on a thread of its own, a few frames ahead, so that it overlaps with motion
    detection (both release the GIL for their heavy parts). `deblock=False` skips the H.264 /
    HEVC loop filter: a quarter less decoding, for frames only detection looks at (the
    detection image is a blurred half-size copy, where block edges barely show; motion_eval's
    clips give the same events either way: bench/scan_decode_check.py)."""
    frames: queue.Queue[GreyFrame | BaseException | None] = queue.Queue(READ_AHEAD_FRAMES)
    stop = threading.Event()

    def decode() -> None:
        try:
            for item in _decode_grey(path, deblock):
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


def _decode_grey(path: str, deblock: bool) -> Iterator[GreyFrame]:
    with av.open(path) as container:
        stream = container.streams.video[0]
        # Per CPU second one decoding thread is cheapest: frame threads cost a fifth more
        # CPU on a 640x480 stream (bench/RESULTS.md), and decoding already overlaps detection.
        stream.thread_type = "SLICE"
        if not deblock:
            stream.codec_context.options = {"skip_loop_filter": "all"}
        start: float | None = None
        for frame in container.decode(stream):
            if frame.time is None:
                continue
            start = frame.time if start is None else start
            width, height = _detect_size(frame.width, frame.height)
            yield frame.time - start, _grey(frame, width, height), frame


# 8-bit planar formats whose first plane is the luma (Y) as it is, at full size
_LUMA_FIRST = {"yuv420p", "yuvj420p", "yuv422p", "yuvj422p", "yuv444p", "yuvj444p", "nv12", "nv21"}
# video range (Y 16-235) to full range, as FFmpeg's conversion to "gray" does it
_VIDEO_TO_FULL = np.clip(np.round((np.arange(256) - 16) * 255 / 219), 0, 255).astype(np.uint8)


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
    for t, grey, _ in grey_frames(path, deblock=False):
        tracker.update(t, detector.update_looking(coarse_of(grey), grey, t))
    tracker.stop()
    return [ScannedEvent.of(event) for event in finished]


def file_fps(path: str) -> float:
    """The file's average frame rate (10 when it does not say)."""
    with av.open(path) as container:
        rate = container.streams.video[0].average_rate
        return float(rate) if rate else 10.0
