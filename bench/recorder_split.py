"""Where an MJPEG camera's recording job spends its CPU, in-process: EventRecorder at the camera's
rate on a bench/mjpeg_source.py scene, split into detection, the JPEG decode for the clip, the
rest of the recorder on the capture thread, and the clip writers' threads.

Run from the repository root:
`python3 -m bench.recorder_split [--scene crowd|intermittent|still|moving] [--seconds S]`.
The scene's 640x480 JPEGs (quality 80, as `bench/run.py` serves them) go to one EventRecorder
(default motion settings, an event index in a temporary directory) from this thread, paced at
10 fps as a camera sends them, so the writer threads work as they do live. CPU time: the
calling thread's for each part (time.thread_time around the methods, instrumented here), the
rest of the process's for the writers; ms per frame captured, and the frames each clip holds.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import av

from camwatch import jpeg
from camwatch.cli import limit_opencv_threads
from camwatch.config import MotionConfig
from camwatch.frame import Frame
from camwatch.motion.timed import TimedDetector
from camwatch.recording.clip_writer import ClipResult
from camwatch.recording.index import EventStore
from camwatch.recording.recorder import EventRecorder

WIDTH, HEIGHT, FPS, QUALITY = 640, 480, 10.0, 80
SCENES = ("crowd", "intermittent", "still", "moving")
# the calling thread's parts: (class, method, what the row calls it)
PARTS = (
    (TimedDetector, "update", "detection (TimedDetector.update)"),
    (EventRecorder, "_picture_for_clip", "JPEG decode for the clip (and detection's luma)"),
    (EventRecorder, "process", "the rest of the recorder (events, queueing frames)"),
)


def scene_jpegs(scene: str) -> list[bytes]:
    sys.path.insert(0, str(Path(__file__).resolve().parent))  # as when the camera script runs
    from mjpeg_source import make_frames

    parts = make_frames(WIDTH, HEIGHT, FPS, QUALITY)[f"/{scene}.mjpg"]
    return [part[part.index(b"\r\n\r\n") + 4 : -2] for part in parts]


def timed(cost: Counter[str], name: str, method: Callable[..., Any]) -> Callable[..., Any]:
    """`method` adding the calling thread's CPU seconds in it to cost[name]."""

    def measured(*args: Any, **kwargs: Any) -> Any:
        started = time.thread_time()
        try:
            return method(*args, **kwargs)
        finally:
            cost[name] += time.thread_time() - started

    return measured


def instrument(cost: Counter[str]) -> None:
    for kind, method, name in PARTS:
        setattr(kind, method, timed(cost, name, getattr(kind, method)))


def count_calls(calls: Counter[str]) -> None:
    """Count detection's own JPEG decodes (Frame.grey_small's, when no picture came with it)."""
    decode = jpeg.decode_grey_scaled

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls["detection's own decodes"] += 1
        return decode(*args, **kwargs)

    jpeg.decode_grey_scaled = counted  # type: ignore[assignment]


def feed(recorder: EventRecorder, jpegs: list[bytes], count: int) -> None:
    """`count` frames at FPS in real time (the frames' own clock at FPS too)."""
    started = time.monotonic()
    for i in range(count):
        wait = started + i / FPS - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        frame = Frame.from_jpeg(
            jpegs[i % len(jpegs)],
            i,
            WIDTH,
            HEIGHT,
            captured_at=time.time(),
            monotonic=1000.0 + i / FPS,
        )
        recorder.on_frame(frame)


def frames_in(path: Path) -> int:
    with av.open(str(path)) as container:
        return sum(1 for packet in container.demux(video=0) if packet.size)


def run(scene: str, seconds: float) -> list[str]:
    cost: Counter[str] = Counter()
    instrument(cost)
    count_calls(cost)
    clips: list[ClipResult] = []
    count = round(seconds * FPS)
    jpegs = scene_jpegs(scene)
    with tempfile.TemporaryDirectory() as directory:
        store = EventStore(directory)
        recorder = EventRecorder(
            "cam", MotionConfig(), Path(directory), store, on_clip_closed=clips.append
        )
        process, thread = time.process_time(), time.thread_time()
        feed(recorder, jpegs, count)
        recorder.close()
        process, thread = time.process_time() - process, time.thread_time() - thread
        held = [frames_in(clip.path) for clip in clips if clip.path.exists()]
        store.close()
    per_frame = 1000 / count
    lines = [
        f"{scene}: {count} frames at {FPS:g} fps, {len(held)} clips of {held} frames",
        "",
        "| part | CPU ms per frame captured |",
        "|---|---|",
    ]
    decodes = cost.pop("detection's own decodes", 0)
    lines += [f"| {name} | {cost[name] * per_frame:.2f} |" for _, _, name in PARTS]
    rest = thread - sum(cost.values())
    lines.append(f"| the calling thread's other work (Frame, pacing) | {rest * per_frame:.2f} |")
    lines.append(f"| the clip writers' threads | {(process - thread) * per_frame:.2f} |")
    lines.append(f"| the process | {process * per_frame:.2f} |")
    lines.append("")
    lines.append(
        f"JPEG decodes: {recorder.pictures_decoded} on the capture thread for the clips (and "
        f"detection), {sum(clip.jpegs_decoded for clip in clips)} by the writers themselves, "
        f"{decodes:.0f} by detection alone"
    )
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scene", choices=SCENES, default="crowd")
    parser.add_argument("--seconds", type=float, default=30.0)
    args = parser.parse_args(argv)
    limit_opencv_threads()
    print("\n".join(run(args.scene, args.seconds)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
