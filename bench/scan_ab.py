"""`camwatch scan` speed on busy footage, two or more checkouts interleaved, per CPU second.

    git archive main | tar -x -C /tmp/a; git archive HEAD | tar -x -C /tmp/b
    python3 -m bench.scan_ab /tmp/a /tmp/b [--rounds 3] [--seconds 60] [--scenes crowd,traffic]

Run from the repository root. The busy scenes of bench/motion_clips.py (busy_clips: crowd,
traffic, trees; 640x480 10 fps) are encoded as `bench/run.py` encodes its scan files (libx264
veryfast, crf 23; kept in --keep DIR to reuse), then each round scans every file with every
checkout (`python -m camwatch scan FILE --json` from the checkout's directory; the order
alternates between rounds). CPU time is the child's own (user + system from wait4), so the
shared machine's load barely moves it; real time / CPU time is the speed the issue's target
(40x) is about. Prints every run, the medians, each round's CPU ratio to the first checkout
(median), and whether the checkouts found the same events.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from bench.motion_clips import busy_clips
from tests.helpers.clips import write_h264

BUSY_SCENES = ("crowd", "traffic", "trees")


@dataclass
class Run:
    tree: str
    scene: str
    wall: float
    cpu: float
    events: str  # the scan's JSON output: compared between checkouts


def encode_scenes(directory: Path, scenes: list[str], seconds: float) -> dict[str, Path]:
    """Each scene as an H.264 MP4 in `directory` (made only when missing)."""
    files = {}
    for clip in busy_clips(640, 480, seconds):
        if clip.name not in scenes:
            continue
        path = directory / f"scan-{clip.name}-640x480-10fps-{seconds:g}s.mp4"
        if not path.exists():
            images = (image for _, image in clip.frames())
            write_h264(path, images, fps=round(clip.fps), preset="veryfast", crf=23)
        files[clip.name] = path
    return files


def duration_s(path: Path) -> float:
    """The video's length in seconds, as its container gives it."""
    import av

    with av.open(str(path)) as container:
        return float(container.duration or 0) / 1e6


def scan_once(tree: Path, scene: str, video: Path) -> Run:
    """One `camwatch scan` of `video` by the checkout in `tree`: its wall and CPU time."""
    started = time.perf_counter()
    child = subprocess.Popen(
        [sys.executable, "-m", "camwatch", "scan", str(video), "--json"],
        cwd=tree,
        env={**os.environ, "PYTHONPATH": str(tree)},
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    out = child.stdout.read()
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{tree}: scan of {video} failed")
    return Run(str(tree), scene, wall, usage.ru_utime + usage.ru_stime, out)


def load() -> str:
    return " ".join(f"{value:.1f}" for value in os.getloadavg())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("trees", nargs="+", type=Path, help="checkouts (each with camwatch/)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=60.0, help="length of each file")
    parser.add_argument("--scenes", default=",".join(BUSY_SCENES))
    parser.add_argument(
        "--file", action="append", default=[], type=Path, help="another video to scan too"
    )
    parser.add_argument("--keep", type=Path, default=Path("/tmp/camwatch-scan-ab"))
    args = parser.parse_args()
    args.keep.mkdir(parents=True, exist_ok=True)
    files = encode_scenes(args.keep, args.scenes.split(","), args.seconds) if args.scenes else {}
    files.update({path.name: path for path in args.file})
    lengths = {scene: duration_s(path) for scene, path in files.items()}
    print(f"start {time.strftime('%H:%M:%S', time.gmtime())} UTC, load {load()}", flush=True)
    runs: list[Run] = []
    for round_number in range(args.rounds):
        trees = args.trees if round_number % 2 == 0 else args.trees[::-1]
        for scene, video in files.items():
            for tree in trees:
                run = scan_once(tree, scene, video)
                runs.append(run)
                print(
                    f"round {round_number + 1} {scene:8} {tree}: wall {run.wall:.2f} s, "
                    f"CPU {run.cpu:.2f} s ({lengths[scene] / run.cpu:.1f}x per CPU s)",
                    flush=True,
                )
    print(f"end {time.strftime('%H:%M:%S', time.gmtime())} UTC, load {load()}")
    report(runs, args.trees, lengths)
    return 0


def report(runs: list[Run], trees: list[Path], lengths: dict[str, float]) -> None:
    """Median CPU and wall time per checkout and scene, the median of each round's CPU ratio to
    the first checkout (pairs run a few seconds apart: load drift cancels), and whether their
    events agree."""
    print(
        "\n| scene | checkout | CPU s (median) | x real time per CPU s | by wall "
        "| CPU / first's (median of rounds) | same events |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for scene, seconds in lengths.items():
        first = next(r.events for r in runs if r.scene == scene)
        base = [r for r in runs if r.scene == scene and r.tree == str(trees[0])]
        for tree in trees:
            mine = [r for r in runs if r.scene == scene and r.tree == str(tree)]
            cpu = statistics.median(r.cpu for r in mine)
            wall = statistics.median(r.wall for r in mine)
            ratio = statistics.median(r.cpu / b.cpu for r, b in zip(mine, base, strict=True))
            same = all(r.events == first for r in mine)
            print(
                f"| {scene} | {tree} | {cpu:.3f} | {seconds / cpu:.1f}x | {seconds / wall:.1f}x "
                f"| {ratio:.3f} | {'yes' if same else 'NO'} |"
            )


if __name__ == "__main__":
    sys.exit(main())
