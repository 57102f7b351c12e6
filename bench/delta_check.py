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
from bench.motion_eval import camera_frame
from camwatch.cli import limit_opencv_threads
from camwatch.config import MotionConfig
from camwatch.motion.detector import DETECT_WIDTH, MotionDetector, frame_delta


def deltas(clip: Clip) -> tuple[np.ndarray, np.ndarray]:
    """(full model's, live path's) per-frame deltas on the clip."""
    settings = replace(MotionConfig(), mask=clip.mask)
    full, live = MotionDetector(settings), MotionDetector(settings)
    full_deltas, live_deltas = [], []
    for i, (t, image) in enumerate(clip.frames()):
        full_deltas.append(full.update(camera_frame(clip, image, i, t).grey_small(DETECT_WIDTH), t))
        live_deltas.append(frame_delta(live, camera_frame(clip, image, i, t), t))
    return np.array(full_deltas, np.float64), np.array(live_deltas, np.float64)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--save", help="write the deltas to this .npz file")
    parser.add_argument("--against", help="compare with the deltas in this .npz file")
    parser.add_argument("--busy-seconds", type=float, default=10.0)
    args = parser.parse_args(argv)
    limit_opencv_threads()
    results: dict[str, np.ndarray] = {}
    for clip in clips() + busy_clips(duration_s=args.busy_seconds):
        results[f"{clip.name}:full"], results[f"{clip.name}:live"] = deltas(clip)
    if args.save:
        np.savez(args.save, **results)
    differing = 0
    if args.against:
        before = np.load(args.against)
        for name, now in results.items():
            old = before[name]
            if old.shape != now.shape or not np.array_equal(old.view(np.int64), now.view(np.int64)):
                differing += 1
                changed = np.flatnonzero(old != now) if old.shape == now.shape else []
                print(f"{name}: {len(changed)} of {len(now)} frames differ", flush=True)
        print(f"{len(results)} delta series, {differing} differ")
    return 1 if differing else 0


if __name__ == "__main__":
    sys.exit(main())
