"""Evaluate motion detectors on the labelled clips: recall, false events, start error per clip.

Run from the repository root: `python3 -m bench.motion_eval [--clips a,b] [--out FILE]`.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np

from bench.motion_clips import Clip, Interval, clips
from camwatch import jpeg
from camwatch.config import MotionConfig
from camwatch.frame import Frame
from camwatch.motion.detector import (
    DETECT_WIDTH,
    Detector,
    FrameDiffDetector,
    MotionDetector,
    frame_delta,
)
from camwatch.motion.tracker import EventTracker, TrackedEvent
from camwatch.recording.pictures import JpegDecoder, luma

MATCH_SLACK_S = 1.0  # an event within this of a labelled interval belongs to it
BASELINE_SETTINGS = MotionConfig(threshold=0.3, pixel_threshold=25)  # the original defaults

DetectorFactory = Callable[[MotionConfig], Detector]


@dataclass
class Contender:
    name: str
    make: DetectorFactory
    settings: MotionConfig


@dataclass
class Outcome:
    """How one detector did on one clip."""

    events: list[TrackedEvent]
    labels: list[Interval]
    found: int  # labelled intervals with an event
    false_events: int  # events that belong to no labelled interval
    start_errors: list[float]  # per found interval: event start minus labelled start (s)
    overrun_s: float  # longest time motion was still seen after a labelled interval ended
    seconds: float  # detector time

    @property
    def worst_start_error(self) -> float | None:
        return max(self.start_errors) if self.start_errors else None


def contenders() -> list[Contender]:
    defaults = MotionConfig()
    return [
        Contender("previous frame (0.3 / 25)", FrameDiffDetector, BASELINE_SETTINGS),
        Contender(
            f"previous frame ({defaults.threshold:g} / {defaults.pixel_threshold})",
            FrameDiffDetector,
            defaults,
        ),
        Contender("background model (defaults)", MotionDetector, defaults),
    ]


def run(clip: Clip, contenders: Sequence[Contender], *, full_decode: bool = False) -> list[Outcome]:
    """Feed every frame of the clip to each detector + event tracker; score the events.
    `full_decode`: each camera JPEG is decoded in full and detection shrinks its luma (as
    while a clip of camera JPEGs is recorded), instead of its own DCT-scaled decodes."""
    decoder = JpegDecoder()
    states = []
    for contender in contenders:
        settings = replace(contender.settings, mask=clip.mask)
        finished: list[TrackedEvent] = []
        states.append(
            (contender.make(settings), EventTracker(settings, finished.append), finished, [0.0])
        )
    for i, (t, image) in enumerate(clip.frames()):
        frame = camera_frame(clip, image, i, t)
        decoded = full_decode and frame.camera_jpeg is not None
        picture = decoder.picture(frame.camera_jpeg) if decoded else None  # type: ignore[arg-type]
        for detector, tracker, _, spent in states:
            started = time.perf_counter()
            delta = frame_delta(detector, frame, t, None if picture is None else luma(picture))
            spent[0] += time.perf_counter() - started
            tracker.update(t, delta)
    outcomes = []
    for _, tracker, finished, spent in states:
        tracker.stop()
        outcomes.append(score(finished, clip.labels, spent[0]))
    return outcomes


def label_deltas(clip: Clip, detector: Detector, *, live: bool = True) -> list[float]:
    """The detector's mean delta over each labelled interval of the clip (in label order),
    through the live path (`frame_delta`) or, not `live`, `update` on every frame."""
    times, deltas = [], []
    for i, (t, image) in enumerate(clip.frames()):
        frame = camera_frame(clip, image, i, t)
        times.append(t)
        if live:
            deltas.append(frame_delta(detector, frame, t))
        else:
            deltas.append(detector.update(frame.grey_small(DETECT_WIDTH), t))
    at, of = np.array(times), np.array(deltas)
    return [float(of[(at >= start) & (at <= end)].mean()) for start, end in clip.labels]


def camera_frame(clip: Clip, image: np.ndarray, seq: int, t: float) -> Frame:
    """The frame as a camera would deliver it: pixels, or JPEG bytes for JPEG clips."""
    if clip.jpeg_quality is None:
        return Frame.from_image(image, seq, monotonic=t)
    height, width = image.shape[:2]
    return Frame.from_jpeg(jpeg.encode(image, clip.jpeg_quality), seq, width, height, monotonic=t)


def score(events: list[TrackedEvent], labels: list[Interval], seconds: float = 0.0) -> Outcome:
    def belongs(event: TrackedEvent, label: Interval) -> bool:
        return (
            event.first_motion_t <= label[1] + MATCH_SLACK_S
            and event.last_motion_t >= label[0] - MATCH_SLACK_S
        )

    found, errors = 0, []
    for label in labels:
        mine = [e for e in events if belongs(e, label)]
        if mine:
            found += 1
            errors.append(min(e.first_motion_t for e in mine) - label[0])
    overrun, false_events = 0.0, 0
    for event in events:
        ends = [label[1] for label in labels if belongs(event, label)]
        if ends:
            overrun = max(overrun, event.last_motion_t - max(ends))
        else:
            false_events += 1
    return Outcome(events, labels, found, false_events, errors, overrun, seconds)


def _cell(outcome: Outcome) -> str:
    found = f"{outcome.found}/{len(outcome.labels)}" if outcome.labels else "-"
    error = outcome.worst_start_error
    start = f"{error:+.1f}" if error is not None else "-"
    overrun = f"{outcome.overrun_s:+.1f}" if outcome.found else "-"
    return f"{found} | {outcome.false_events} | {start} | {overrun}"


def table(rows: list[tuple[Clip, list[Outcome]]], names: Sequence[str]) -> str:
    header = "| clip | what |" + "".join(f" {n}: found | false | start s | ends s |" for n in names)
    lines = [header, "|" + " --- |" * (2 + 4 * len(names))]
    for clip, outcomes in rows:
        lines.append(f"| {clip.name} | {clip.what} |" + "".join(f" {_cell(o)} |" for o in outcomes))
    totals = []
    for k in range(len(names)):
        labels = sum(len(o[k].labels) for _, o in rows)
        found = sum(o[k].found for _, o in rows)
        false_events = sum(o[k].false_events for _, o in rows)
        worst = max((o[k].worst_start_error or 0.0 for _, o in rows), default=0.0)
        totals.append(f" **{found}/{labels}** | **{false_events}** | {worst:+.1f} | |")
    lines.append("| **total** | |" + "".join(totals))
    return "\n".join(lines)


def add_jpeg_arguments(parser: argparse.ArgumentParser) -> None:
    """--jpeg and --full-decode: how clips' frames reach detection (motion_eval, delta_check)."""
    parser.add_argument(
        "--jpeg",
        type=int,
        help="every clip's frames arrive as camera JPEGs of this quality (else only some do)",
    )
    parser.add_argument(
        "--full-decode",
        action="store_true",
        help="detection images of JPEG clips from the full decode's luma, as while recording",
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clips", help="comma-separated clip names (default: all)")
    parser.add_argument("--verbose", action="store_true", help="list each clip's events")
    add_jpeg_arguments(parser)
    args = parser.parse_args(argv)
    wanted = set(args.clips.split(",")) if args.clips else None
    chosen = [
        replace(c, jpeg_quality=c.jpeg_quality or args.jpeg)
        for c in clips()
        if wanted is None or c.name in wanted
    ]
    competitors = contenders()
    rows, frames, started = [], 0, time.perf_counter()
    for clip in chosen:
        outcomes = run(clip, competitors, full_decode=args.full_decode)
        rows.append((clip, outcomes))
        frames += round(clip.duration_s * clip.fps)
        if args.verbose:
            for contender, outcome in zip(competitors, outcomes, strict=False):
                spans = ", ".join(
                    f"{e.first_motion_t:.1f}-{e.last_motion_t:.1f}"
                    f" ({e.motion_frames}, peak {e.peak_delta:.2f})"
                    for e in outcome.events
                )
                print(
                    f"{clip.name:20} {contender.name:28} labels {clip.labels} events {spans}",
                    file=sys.stderr,
                )
    print(table(rows, [c.name for c in competitors]))
    per_frame = [
        1000 * sum(o[k].seconds for _, o in rows) / max(1, frames) for k in range(len(competitors))
    ]
    print(
        "\nfound: labelled intervals with an event; false: events outside every labelled "
        "interval; start s: event start minus labelled start (worst of the clip); ends s: "
        "last significant frame minus labelled end (the event's clip goes on for "
        "stable_frames more)."
    )
    print(
        f"{len(chosen)} clips, {frames} frames in {time.perf_counter() - started:.0f} s; "
        "decode + detector per frame: "
        + ", ".join(f"{c.name} {ms:.2f} ms" for c, ms in zip(competitors, per_frame, strict=False))
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
