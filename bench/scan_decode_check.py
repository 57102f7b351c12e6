"""`scan`'s decoding shortcut (no H.264 loop filter) against the full decode, on the evaluation
clips encoded as H.264: events found and false for both, and how far per-frame deltas moved.

Run from the repository root: `python3 -m bench.scan_decode_check [--clips a,b] [--keep DIR]`.
Each labelled clip of bench/motion_clips.py is encoded as `bench/run.py` encodes its scan files
(libx264 veryfast, crf 23), then scanned twice as `camwatch scan` does (the first look and the
full model, then the event tracker), with and without the loop filter, and scored as
bench/motion_eval.py scores the live path. Exits 1 when the shortcut finds fewer intervals or
more false events.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from bench.motion_clips import Clip, clips
from bench.motion_eval import Outcome, score
from camwatch.cli import limit_opencv_threads
from camwatch.config import MotionConfig
from camwatch.motion.detector import MotionDetector
from camwatch.motion.look import coarse_of
from camwatch.motion.scan import grey_frames
from camwatch.motion.tracker import EventTracker, TrackedEvent
from tests.helpers.clips import write_h264


@dataclass
class Scanned:
    outcome: Outcome
    deltas: np.ndarray


def encode(clip: Clip, path: Path) -> None:
    """The clip as H.264 as the `scan` rows encode it (libx264 veryfast, crf 23)."""
    write_h264(
        path, (image for _, image in clip.frames()), fps=round(clip.fps), preset="veryfast", crf=23
    )


def scan_clip(clip: Clip, path: Path, deblock: bool) -> Scanned:
    settings = replace(MotionConfig(), mask=clip.mask)
    finished: list[TrackedEvent] = []
    detector, tracker = MotionDetector(settings), EventTracker(settings, finished.append)
    deltas = []
    for t, grey, _ in grey_frames(str(path), deblock=deblock):
        deltas.append(detector.update_looking(coarse_of(grey), grey, t))
        tracker.update(t, deltas[-1])
    tracker.stop()
    return Scanned(score(finished, clip.labels), np.array(deltas))


def spans(outcome: Outcome) -> str:
    return ", ".join(f"{e.first_motion_t:.1f}-{e.last_motion_t:.1f}" for e in outcome.events)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clips", help="comma-separated clip names (default: all)")
    parser.add_argument("--keep", help="folder for the encoded clips (default: a temporary one)")
    args = parser.parse_args(argv)
    limit_opencv_threads()
    wanted = set(args.clips.split(",")) if args.clips else None
    chosen = [c for c in clips() if wanted is None or c.name in wanted]
    totals = {True: [0, 0], False: [0, 0]}  # deblock -> [found, false events]
    labels = 0
    print(
        "| clip | full decode: found, false, events | no loop filter: found, false, events "
        "| frames whose delta moved | largest move, % points |"
    )
    print("| --- | --- | --- | --- | --- |")
    with tempfile.TemporaryDirectory(prefix="camwatch-scan-check-") as tmp:
        folder = Path(args.keep or tmp)
        folder.mkdir(parents=True, exist_ok=True)
        for clip in chosen:
            path = folder / f"{clip.name}.mp4"
            if not path.exists():
                encode(clip, path)
            full, fast = scan_clip(clip, path, True), scan_clip(clip, path, False)
            labels += len(clip.labels)
            for deblock, scanned in ((True, full), (False, fast)):
                totals[deblock][0] += scanned.outcome.found
                totals[deblock][1] += scanned.outcome.false_events
            moved = np.abs(full.deltas - fast.deltas)
            print(
                f"| {clip.name} | {full.outcome.found}/{len(clip.labels)}, "
                f"{full.outcome.false_events}, {spans(full.outcome) or '-'} "
                f"| {fast.outcome.found}/{len(clip.labels)}, {fast.outcome.false_events}, "
                f"{spans(fast.outcome) or '-'} | {np.count_nonzero(moved)} of {moved.size} "
                f"| {moved.max():.3f} |",
                flush=True,
            )
    print(
        f"| **total** | **{totals[True][0]}/{labels}**, **{totals[True][1]}** false "
        f"| **{totals[False][0]}/{labels}**, **{totals[False][1]}** false | | |"
    )
    worse = totals[False][0] < totals[True][0] or totals[False][1] > totals[True][1]
    return 1 if worse else 0


if __name__ == "__main__":
    sys.exit(main())
