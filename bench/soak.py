#!/usr/bin/env python3
"""Soak run: the real server (`python3 -m camwatch`, demo camera with its crossings, so events are
recorded too) under constant viewer churn plus one steady viewer, for a bounded number of
minutes. Samples the server's RSS, open fds and CPU every interval and prints a Markdown table,
then the trend: RSS and fds should be flat once warm.

    python3 bench/soak.py                       # 5 minutes, 100 churning viewers, 640x480
    python3 bench/soak.py --minutes 1 --viewers 200 --interval 5

Loopback only; everything stops by itself at the end (exit 1 if the server died or leaked).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.churn import ChurnStats, churn, steady
from bench.processes import free_port, stop_process, wait_for_health
from bench.procstat import cpu_seconds, fd_count, rss_bytes


@dataclass
class Sample:
    minute: float
    rss_mib: float
    fds: int
    cpu_percent: float
    connections: int
    events: int


def event_count(port: int) -> int:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/events?limit=500", timeout=5) as r:
        return len(json.loads(r.read()))


def slope_per_minute(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of (minute, value)."""
    if len(points) < 2:
        return 0.0
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    mean_x, mean_y = statistics.fmean(xs), statistics.fmean(ys)
    spread = sum((x - mean_x) ** 2 for x in xs)
    return sum((x - mean_x) * (y - mean_y) for x, y in points) / spread if spread else 0.0


async def soak(
    port: int, pid: int, args: argparse.Namespace
) -> tuple[list[Sample], ChurnStats, float]:
    total = ChurnStats()
    samples: list[Sample] = []
    seconds = args.minutes * 60
    started = time.monotonic()
    steady_task = asyncio.ensure_future(steady(port, seconds))
    load_task = asyncio.ensure_future(
        churn(port, args.viewers, seconds, stats=total, seed=int(time.time()))
    )
    last_cpu, last_time = cpu_seconds(pid), time.monotonic()
    while not load_task.done():
        await asyncio.wait({load_task}, timeout=args.interval)
        now, cpu = time.monotonic(), cpu_seconds(pid)
        events = await asyncio.get_running_loop().run_in_executor(None, event_count, port)
        samples.append(
            Sample(
                (now - started) / 60,
                rss_bytes(pid) / 2**20,
                fd_count(pid),
                100 * (cpu - last_cpu) / (now - last_time),
                total.total,
                events,
            )
        )
        print(
            f"  {samples[-1].minute:5.2f} min  RSS {samples[-1].rss_mib:6.1f} MiB  "
            f"fds {samples[-1].fds:4d}  CPU {samples[-1].cpu_percent:4.0f} %",
            flush=True,
        )
        last_cpu, last_time = cpu, now
    kept = await steady_task
    return samples, total, kept.ratio


def report(
    samples: list[Sample],
    total: ChurnStats,
    ratio: float,
    fds_idle: tuple[int, int],
    args: argparse.Namespace,
) -> bool:
    print(
        f"\n## Soak: {args.minutes:g} min, {args.viewers} churning viewers, "
        f"{args.width}x{args.height} at {args.fps:g} fps\n"
    )
    print("| minute | RSS (MiB) | open fds | server CPU | connections so far | events |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: |")
    for s in samples:
        print(
            f"| {s.minute:.2f} | {s.rss_mib:.1f} | {s.fds} | {s.cpu_percent:.0f} % "
            f"| {s.connections} | {s.events} |"
        )
    warm = [s for s in samples if s.minute >= samples[-1].minute / 3] or samples
    rss_slope = slope_per_minute([(s.minute, s.rss_mib) for s in warm])
    rss_range = max(s.rss_mib for s in warm) - min(s.rss_mib for s in warm)
    print(
        f"\n{total.total} connections ({total.connections}), {total.frames} frames to "
        f"churning viewers, {sum(total.errors.values())} client errors {total.errors or ''}"
    )
    print(f"steady viewer kept {ratio:.1%} of the frames")
    print(
        f"RSS after warm-up: {rss_slope:+.2f} MiB/min (range {rss_range:.1f} MiB); "
        f"open fds idle before/after: {fds_idle[0]} / {fds_idle[1]}"
    )
    flat = rss_slope < args.max_rss_slope and fds_idle[1] <= fds_idle[0] + 2 and ratio >= 0.9
    print("verdict:", "flat" if flat else "NOT FLAT")
    return flat


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--viewers", type=int, default=100)
    parser.add_argument("--interval", type=float, default=15.0, help="seconds between samples")
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--height", type=int, default=480)
    parser.add_argument("--fps", type=float, default=10.0)
    parser.add_argument("--max-rss-slope", type=float, default=1.0, help="MiB/min counted flat")
    args = parser.parse_args()
    if not 0 < args.minutes <= 240:
        parser.error("--minutes: from 0 to 240")
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="camwatch-soak-") as data_dir:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "camwatch",
                "--source",
                "demo",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--width",
                str(args.width),
                "--height",
                str(args.height),
                "--fps",
                str(args.fps),
                "--data-dir",
                data_dir,
                "--log-level",
                "warning",
            ],
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        try:
            wait_for_health(port, process)
            asyncio.run(churn(port, 20, 3.0))  # warm-up
            time.sleep(1)
            fds_before = fd_count(process.pid)
            samples, total, ratio = asyncio.run(soak(port, process.pid, args))
            time.sleep(3)  # let the last connections close
            fds_after = fd_count(process.pid)
            alive = process.poll() is None
            flat = report(samples, total, ratio, (fds_before, fds_after), args)
        finally:
            stop_process(process)
    if not alive:
        print("the server died during the soak")
    return 0 if flat and alive else 1


if __name__ == "__main__":
    sys.exit(main())
