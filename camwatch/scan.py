"""`camwatch scan VIDEO`: the live motion detection and event logic, run over a file as fast as possible."""

from __future__ import annotations

import argparse
import json
import queue
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

import av
import numpy as np

from camwatch import config as cfg
from camwatch.config import ConfigError, MotionConfig
from camwatch.frame import Frame
from camwatch.motion import DETECT_WIDTH, MotionDetector
from camwatch.tracker import EventTracker, TrackedEvent


@dataclass
class ScannedEvent:
    start_s: float  # first significant frame
    end_s: float  # last significant frame
    motion_frames: int
    peak_delta: float

    @classmethod
    def of(cls, event: TrackedEvent) -> ScannedEvent:
        return cls(round(event.first_motion_t, 3), round(event.last_motion_t, 3),
                   event.motion_frames, round(event.peak_delta, 3))


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


def scan(path: str, settings: MotionConfig, record_dir: Path | None = None
         ) -> list[ScannedEvent]:
    """Events found in the file; with record_dir, their clips are written there too."""
    finished: list[TrackedEvent] = []
    if record_dir is None:
        detector, tracker = MotionDetector(settings), EventTracker(settings, finished.append)
        for t, grey, _ in grey_frames(path):
            tracker.update(t, detector.update(grey, t))
        tracker.stop()
    else:
        _record(path, settings, record_dir, finished)
    return [ScannedEvent.of(event) for event in finished]


def _record(path: str, settings: MotionConfig, record_dir: Path,
            finished: list[TrackedEvent]) -> None:
    from camwatch.events import EventStore
    from camwatch.recorder import EventRecorder

    camera = "".join(c if c.isalnum() or c in "_-" else "_" for c in Path(path).stem.lower())
    recorder = EventRecorder(camera[:32] or "scan", settings, record_dir,
                             EventStore(record_dir), fps_hint=_file_fps(path))
    recorder.tracker.on_finished = finished.append
    wall_start = time.time()
    for seq, (t, grey, video_frame) in enumerate(grey_frames(path)):
        image = video_frame.to_ndarray(format="bgr24")
        frame = Frame.from_image(image, seq, captured_at=wall_start + t, monotonic=t)
        recorder.process(frame, recorder.detector.update(grey, t))
    recorder.close(timeout=600)


def _file_fps(path: str) -> float:
    with av.open(path) as container:
        rate = container.streams.video[0].average_rate
        return float(rate) if rate else 10.0


def build_parser() -> argparse.ArgumentParser:
    from camwatch.cli import ArgumentParser

    parser = ArgumentParser(prog="camwatch scan",
                            description="Run motion detection over a video file.")
    parser.add_argument("video", help="the video file to analyse")
    parser.add_argument("--json", action="store_true", help="print a JSON object")
    parser.add_argument("--record", metavar="DIR", help="also write event clips to DIR")
    parser.add_argument("--config", metavar="FILE",
                        help="take motion settings from the first camera in this TOML file")
    for option, kind in (("threshold", float), ("pixel-threshold", int),
                         ("stable-frames", int), ("min-motion-frames", int),
                         ("pre-roll-seconds", float), ("max-event-seconds", float)):
        parser.add_argument(f"--{option}", type=kind)
    return parser


def settings_from_args(args: argparse.Namespace) -> MotionConfig:
    settings = MotionConfig()
    if args.config:
        loaded = cfg.load_file(args.config)
        if loaded.cameras:
            settings = loaded.cameras[0].motion
    for key in ("threshold", "pixel_threshold", "stable_frames", "min_motion_frames",
                "pre_roll_seconds", "max_event_seconds"):
        value = getattr(args, key)
        if value is not None:
            cfg.set_value(settings, key, value, "--" + key.replace("_", "-"))
    return settings


def main(argv: Sequence[str]) -> int:
    args = build_parser().parse_args(list(argv))
    try:
        settings = settings_from_args(args)
    except ConfigError as e:
        print(f"camwatch scan: error: {e}", file=sys.stderr)
        return 2
    if not Path(args.video).is_file():
        print(f"camwatch scan: error: VIDEO: no such file: {args.video}", file=sys.stderr)
        return 2
    try:
        events = scan(args.video, settings, Path(args.record) if args.record else None)
    except av.FFmpegError as e:
        print(f"camwatch scan: error: VIDEO: cannot decode {args.video}: {e}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps({"events": [vars(e) for e in events]}))
    else:
        for i, event in enumerate(events, 1):
            print(f"event {i}: {event.start_s:.2f}s - {event.end_s:.2f}s, "
                  f"{event.motion_frames} motion frames, peak delta {event.peak_delta:.2f}%")
        if not events:
            print("no events")
    return 0
