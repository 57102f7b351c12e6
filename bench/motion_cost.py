"""CPU cost per frame of motion detection on still and busy scenes, from camera JPEGs.

Run from the repository root: `python3 -m bench.motion_cost [--seconds S] [--size WxH]`.
Scenes from bench/motion_clips.py's busy_clips (sensor noise only; a crowd crossing all the
time; constant traffic; swaying trees), JPEG-encoded as a network camera sends them. For each:
the live path (`frame_delta`: first look at the 1/8-scale decode, full model and the
detection-size decode only when needed) and the full model on every frame (decode + update,
as before the first look). CPU time is the process's, so other load on the machine barely
affects it; the median of `--repeats` runs is shown.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass

import cv2

from bench.motion_clips import Clip, busy_clips
from camwatch import jpeg
from camwatch.cli import limit_opencv_threads
from camwatch.config import MotionConfig
from camwatch.frame import Frame
from camwatch.motion.detector import DETECT_WIDTH, MotionDetector, frame_delta


@dataclass
class Cost:
    live_ms: float  # frame_delta: first look, full model when needed
    full_ms: float  # grey_small(DETECT_WIDTH) + update() on every frame
    full_share: float  # frames on which the live path ran the full model
    motion_share: float  # frames with delta above the default threshold


def camera_frames(clip: Clip) -> list[Frame]:
    return [
        Frame.from_jpeg(jpeg.encode(image, 80), i, clip.width, clip.height, monotonic=t)
        for i, (t, image) in enumerate(clip.frames())
    ]


def fresh(frames: list[Frame]) -> list[Frame]:
    """Copies without the decodes a previous run cached."""
    copies = []
    for f in frames:
        assert f.camera_jpeg is not None
        copies.append(
            Frame.from_jpeg(f.camera_jpeg, f.seq, f.width, f.height, monotonic=f.monotonic)
        )
    return copies


def run_live(frames: list[Frame]) -> tuple[float, float, float]:
    detector, settings = MotionDetector(MotionConfig()), MotionConfig()
    full = motion = 0
    started = time.process_time()
    for frame in frames:
        steps = detector.steps
        delta = frame_delta(detector, frame, frame.monotonic)
        full += detector.steps != steps
        motion += delta > settings.threshold
    spent = time.process_time() - started
    return 1000 * spent / len(frames), full / len(frames), motion / len(frames)


def run_full(frames: list[Frame]) -> float:
    detector = MotionDetector(MotionConfig())
    started = time.process_time()
    for frame in frames:
        detector.update(frame.grey_small(DETECT_WIDTH), frame.monotonic)
    return 1000 * (time.process_time() - started) / len(frames)


def measure(clip: Clip, repeats: int) -> Cost:
    frames = camera_frames(clip)
    live, full = [], []
    for _ in range(repeats):
        live_ms, full_share, motion_share = run_live(fresh(frames))
        live.append(live_ms)
        full.append(run_full(fresh(frames)))
    return Cost(statistics.median(live), statistics.median(full), full_share, motion_share)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=20.0, help="length of each scene")
    parser.add_argument("--size", default="640x480")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    width, height = (int(v) for v in args.size.split("x"))
    limit_opencv_threads()  # as the server does
    print(
        f"CPU per frame, {width}x{height} camera JPEGs at 10 fps, {args.seconds:g} s per scene, "
        f"median of {args.repeats}, OpenCV threads {cv2.getNumThreads()}:\n"
    )
    print(
        "| scene | live: first look + full model when needed, ms | full model on | "
        "frames with motion | full model every frame, ms | live vs still |"
    )
    print("| --- | --- | --- | --- | --- | --- |")
    still_ms = None
    for clip in busy_clips(width, height, args.seconds):
        cost = measure(clip, args.repeats)
        still_ms = still_ms or cost.live_ms
        print(
            f"| {clip.name} ({clip.what}) | {cost.live_ms:.2f} | {100 * cost.full_share:.0f}% "
            f"| {100 * cost.motion_share:.0f}% | {cost.full_ms:.2f} "
            f"| {cost.live_ms / still_ms:.1f}x |",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
