"""camwatch's memory, checkouts or settings side by side: `/proc/PID/smaps_rollup` per variant.

    python3 bench/memory.py                                   # this checkout, still + intermittent
    python3 bench/memory.py --variant before=/tmp/base --variant after=.
    python3 bench/memory.py --variant arena2=.,MALLOC_ARENA_MAX=2 --variant default=.
    python3 bench/memory.py --size 1920x1080 --scenes intermittent        # a 1080p camera

A variant is NAME=ROOT[,VAR=VALUE...]: the camwatch code under ROOT (on PYTHONPATH) run by this
Python, with those environment variables. Every variant runs with the same interpreter and
site-packages, so the libraries are the same files (their file-backed RSS depends on the page
cache's state of each file: two copies of one library can differ by many MB). Each round runs
every scene for every variant in turn (interleaved), against one MJPEG camera
(bench/mjpeg_source.py, 640x480 10 fps unless --size) with one MJPEG viewer, samples VmRSS
every 0.5 s (the peak, and the lowest: on the intermittent scene, between clips) and reads
smaps_rollup at the end of the window. "av" says whether PyAV's libraries were mapped by then.
"""

from __future__ import annotations

import argparse
import signal
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from procstat import Memory, UsageMeter, load_average
from run import (
    CONNECT_S,
    CamwatchServer,
    MjpegSource,
    Scenario,
    finish_viewers,
    start_viewers,
)

WARM_UP_S = 5.0  # the first frames decoded, an intermittent scene's event (if any) under way


@dataclass(frozen=True)
class Variant:
    name: str
    root: Path
    env: dict[str, str]


@dataclass(frozen=True)
class Sample:
    variant: str
    scene: str
    peak_rss: float
    low_rss: float
    cpu: float  # % of one core over the window
    memory: Memory
    av_loaded: bool
    recording: bool


def parse_variant(text: str) -> Variant:
    name, _, rest = text.partition("=")
    root, *assignments = rest.split(",")
    env = dict(assignment.split("=", 1) for assignment in assignments)
    return Variant(name, Path(root or ".").resolve(), env)


def maps_pyav(pid: int) -> bool:
    with open(f"/proc/{pid}/maps") as f:
        return "/av.libs/" in f.read()


def measure(
    variant: Variant, source: MjpegSource, scene: str, seconds: float, work: Path
) -> Sample:
    scenario = Scenario("mjpeg", *source.size, 10.0, scene)
    folder = work / f"{variant.name}-{scene}-{time.monotonic_ns()}"
    folder.mkdir(parents=True)
    server = CamwatchServer(
        scenario, source.url(scene), folder, root=variant.root, extra_env=variant.env
    )
    try:
        start = time.time() + CONNECT_S
        viewer = start_viewers(server.base, 1, start, start + WARM_UP_S + seconds, 10.0)
        time.sleep(CONNECT_S + WARM_UP_S)
        usage = UsageMeter(server.process.pid).over(seconds)
        sample = Sample(
            variant.name,
            scene,
            usage.rss_mb,
            usage.rss_low_mb,
            usage.cpu_percent,
            usage.memory,
            maps_pyav(server.process.pid),
            bool(server.camera()["recording"]),
        )
        finish_viewers(viewer, 30)
        return sample
    finally:
        server.stop()


def report(samples: list[Sample], variants: list[Variant], scenes: list[str]) -> list[str]:
    lines = [
        "| scene | variant | peak RSS | lowest RSS | RSS at end | PSS | anonymous | file-backed "
        "| CPU | av mapped |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for scene in scenes:
        for variant in variants:
            rows = [s for s in samples if s.scene == scene and s.variant == variant.name]
            if not rows:
                continue

            def mb(values: list[float]) -> str:
                return f"{statistics.median(values):.1f}"

            av = sum(s.av_loaded for s in rows)
            lines.append(
                f"| {scene} | {variant.name} | {mb([s.peak_rss for s in rows])} "
                f"| {mb([s.low_rss for s in rows])} | {mb([s.memory.rss for s in rows])} "
                f"| {mb([s.memory.pss for s in rows])} "
                f"| {mb([s.memory.anonymous for s in rows])} "
                f"| {mb([s.memory.file_backed for s in rows])} "
                f"| {statistics.median(s.cpu for s in rows):.2f}% | {av}/{len(rows)} |"
            )
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--variant", action="append", type=parse_variant, default=[])
    parser.add_argument("--scenes", default="still,intermittent")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=20.0, help="measured seconds per run")
    parser.add_argument("--size", default="640x480", help="the camera's WIDTHxHEIGHT")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # stop the child processes too
    variants = args.variant or [parse_variant("this checkout=.")]
    scenes = args.scenes.split(",")
    load_before = load_average()
    samples: list[Sample] = []
    width, height = (int(n) for n in args.size.split("x"))
    source = MjpegSource(width, height, 10.0)
    try:
        with tempfile.TemporaryDirectory(prefix="camwatch-memory-") as tmp:
            for run in range(args.repeats):
                for scene in scenes:
                    for variant in variants:
                        sample = measure(variant, source, scene, args.seconds, Path(tmp))
                        print(f"round {run + 1} {sample}", flush=True)
                        samples.append(sample)
    finally:
        source.stop()
    print(
        f"\nMB, {args.size}, median of {args.repeats} rounds, {args.seconds:.0f} s windows; "
        f"load average before {load_before}, after {load_average()}\n"
    )
    print("\n".join(report(samples, variants, scenes)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
