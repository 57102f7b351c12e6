"""CPU cost per frame of motion detection at 1280x720: grey_small + update, for each detector.

Run from the repository root: `python3 -m bench.motion_cost [--frames N]`. CPU time is the
process's (all threads), so other load on the machine barely affects it.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence

import cv2
import numpy as np

from bench.motion_clips import Clip, person
from camwatch import jpeg
from camwatch.cli import limit_opencv_threads
from camwatch.config import MotionConfig
from camwatch.frame import Frame
from camwatch.motion.detector import DETECT_WIDTH, Detector, FrameDiffDetector, MotionDetector

WIDTH, HEIGHT = 1280, 720


def source_frames(count: int) -> list[np.ndarray]:
    """1280x720 frames of a person crossing a noisy scene (made once, outside the timing)."""
    clip = Clip(
        "cost",
        "",
        count / 10,
        [person(0.5, speed=500, height=300, feet_y=600)],
        width=WIDTH,
        height=HEIGHT,
    )
    return [image for _, image in clip.frames()]


def measure(
    images: list[np.ndarray], make: Callable[[MotionConfig], Detector], as_jpeg: bool
) -> tuple[float, float]:
    """(ms of CPU per frame for grey_small + update, of which update alone)."""
    detector = make(MotionConfig())
    frames = [
        Frame.from_jpeg(jpeg.encode(image, 80), i, WIDTH, HEIGHT, monotonic=i / 10)
        if as_jpeg
        else Frame.from_image(image, i, monotonic=i / 10)
        for i, image in enumerate(images)
    ]
    total = update = 0.0
    for i, frame in enumerate(frames):
        started = time.process_time()
        grey = frame.grey_small(DETECT_WIDTH)
        middle = time.process_time()
        detector.update(grey, i / 10)
        ended = time.process_time()
        total += ended - started
        update += ended - middle
    return 1000 * total / len(frames), 1000 * update / len(frames)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--frames", type=int, default=300)
    args = parser.parse_args(argv)
    limit_opencv_threads()  # as the server does
    images = source_frames(args.frames)
    print(
        f"CPU per frame at {WIDTH}x{HEIGHT} (detection at {DETECT_WIDTH} px wide), "
        f"{args.frames} frames, OpenCV threads {cv2.getNumThreads()}:\n"
    )
    print("| detector | input | grey_small + update, ms | update alone, ms |")
    print("| --- | --- | --- | --- |")
    for name, make in (
        ("FrameDiffDetector", FrameDiffDetector),
        ("MotionDetector", MotionDetector),
    ):
        for as_jpeg in (False, True):
            total, update = measure(images, make, as_jpeg)
            kind = "camera JPEG (DCT-scaled grey decode)" if as_jpeg else "BGR pixels"
            print(f"| {name} | {kind} | {total:.2f} | {update:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
