"""Per-frame deltas of the motion detector on every evaluation and busy clip, saved or compared.

Run from the repository root, before and after a change to the detector:
`python3 -m bench.delta_check --save /tmp/before.npz`, then
`python3 -m bench.delta_check --against /tmp/before.npz`. For each clip it records the full
model's deltas (`MotionDetector.update` on every frame) and the live path's (`frame_delta`, the
first look included), both as float64 bit patterns, and says which clips differ and where.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from bench.motion_clips import Clip, busy_clips, clips
from bench.motion_eval import add_jpeg_arguments, camera_frame
from camwatch.cli import limit_opencv_threads
from camwatch.config import MotionConfig
from camwatch.frame import shrink_grey
from camwatch.motion.detector import DETECT_WIDTH, MotionDetector, frame_delta
from camwatch.recording.pictures import JpegDecoder, luma


def deltas(clip: Clip, full_decode: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """(full model's, live path's) per-frame deltas on the clip; `full_decode`: detection
    images of camera JPEGs shrunk from the full decode's luma, as while a clip is recorded."""
    settings = replace(MotionConfig(), mask=clip.mask)
    full, live = MotionDetector(settings), MotionDetector(settings)
    full_deltas, live_deltas = [], []
    decoder = JpegDecoder()
    for i, (t, image) in enumerate(clip.frames()):
        frame = camera_frame(clip, image, i, t)
        if full_decode and frame.camera_jpeg is not None:
            picture = luma(decoder.picture(frame.camera_jpeg))
            full_deltas.append(full.update(shrink_grey(picture, DETECT_WIDTH), t))
            live_deltas.append(frame_delta(live, camera_frame(clip, image, i, t), t, picture))
            continue
        full_deltas.append(full.update(frame.grey_small(DETECT_WIDTH), t))
        live_deltas.append(frame_delta(live, camera_frame(clip, image, i, t), t))
    return np.array(full_deltas, np.float64), np.array(live_deltas, np.float64)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--save", help="write the deltas to this .npz file")
    parser.add_argument("--against", help="compare with the deltas in this .npz file")
    parser.add_argument("--busy-seconds", type=float, default=10.0)
    add_jpeg_arguments(parser)
    args = parser.parse_args(argv)
    limit_opencv_threads()
    results: dict[str, np.ndarray] = {}
    for clip in clips() + busy_clips(duration_s=args.busy_seconds):
        clip = replace(clip, jpeg_quality=clip.jpeg_quality or args.jpeg)
        results[f"{clip.name}:full"], results[f"{clip.name}:live"] = deltas(clip, args.full_decode)
    if args.save:
        np.savez(args.save, **results)
    differing = 0
    if args.against:
        before = np.load(args.against)
        for name, now in results.items():
            if name not in before:
                print(f"{name}: not in {args.against} (a clip added since)", flush=True)
                continue
            old = before[name]
            if old.shape != now.shape or not np.array_equal(old.view(np.int64), now.view(np.int64)):
                differing += 1
                if old.shape != now.shape:
                    print(f"{name}: {len(old)} frames before, {len(now)} now", flush=True)
                    continue
                changed = np.flatnonzero(old != now)
                largest = float(np.max(np.abs(old - now)))
                print(
                    f"{name}: {len(changed)} of {len(now)} frames differ, by at most "
                    f"{largest:.4f} (delta, % of the picture; mean of the series {old.mean():.3f})",
                    flush=True,
                )
        print(f"{len(results)} delta series, {differing} differ")
    return 1 if differing else 0


if __name__ == "__main__":
    sys.exit(main())
