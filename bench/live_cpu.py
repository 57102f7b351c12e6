#!/usr/bin/env python3
"""Live streaming cost: server CPU and RSS, and frames per viewer, for 0, 1 and 20 websocket
viewers.

Starts the real server (`python3 -m camwatch`, demo source, 127.0.0.1, motion off) once per frame
size, connects the viewers from a separate process, and prints a Markdown table. Loopback only,
bounded in time: about (seconds + 5) x sizes x viewer counts.

    python3 bench/live_cpu.py                      # 640x480 and 1280x720, 10 fps, 15 s each
    python3 bench/live_cpu.py --seconds 5 --viewers 1,5 --sizes 320x240
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
from dataclasses import dataclass
from pathlib import Path

from processes import free_port, stop_process, wait_for_health  # bench/ is sys.path[0]
from procstat import cpu_seconds, rss_mb

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Row:
    size: str
    viewers: int
    fps: list[float]
    cpu_percent: float
    rss_mb: float

    def markdown(self) -> str:
        if self.fps:
            rates = f"{min(self.fps):.1f} / {statistics.median(self.fps):.1f} / {max(self.fps):.1f}"
        else:
            rates = "-"
        return (
            f"| {self.size} | {self.viewers} | {rates} | {self.cpu_percent:.0f} % "
            f"| {self.rss_mb:.0f} MB |"
        )


def start_server(
    width: int, height: int, fps: float, workdir: Path
) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    config = workdir / "bench.toml"
    config.write_text(
        f'[server]\nhost = "127.0.0.1"\nport = {port}\ndata_dir = "{workdir / "data"}"\n'
        f'[[cameras]]\nname = "cam"\nsource = "demo"\nwidth = {width}\nheight = {height}\n'
        f"fps = {fps}\n[cameras.motion]\nenabled = false\n"
    )
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    process = subprocess.Popen(
        [sys.executable, "-m", "camwatch", "--config", str(config), "--log-level", "warning"],
        cwd=workdir,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_health(port, process)
    except RuntimeError:
        stop_process(process)
        raise
    return process, port


def measure(pid: int, port: int, viewers: int, seconds: float) -> tuple[list[float], float]:
    """(fps per viewer, server CPU % of one core) over the viewers' counting window."""
    if viewers == 0:
        before, started = cpu_seconds(pid), time.monotonic()
        time.sleep(seconds)
        return [], 100 * (cpu_seconds(pid) - before) / (time.monotonic() - started)
    child = subprocess.Popen(
        [
            sys.executable,
            __file__,
            "--viewer-process",
            f"ws://127.0.0.1:{port}/webcam",
            str(viewers),
            str(seconds),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    try:
        if child.stdout.readline().strip() != "READY":
            raise RuntimeError("viewers did not connect")
        before, started = cpu_seconds(pid), time.monotonic()
        result = json.loads(child.stdout.readline())
        cpu = 100 * (cpu_seconds(pid) - before) / (time.monotonic() - started)
        child.wait(10)
    finally:
        if child.poll() is None:
            child.kill()
    return result["fps"], cpu


async def view(url: str, count: int, seconds: float) -> list[float]:
    """`count` websocket viewers; READY once all have a frame, then frames counted per viewer."""
    import tornado.websocket

    connections = [
        await tornado.websocket.websocket_connect(url, max_message_size=64 << 20)
        for _ in range(count)
    ]
    for connection in connections:
        await asyncio.wait_for(connection.read_message(), 10)
    print("READY", flush=True)

    async def count_frames(connection: tornado.websocket.WebSocketClientConnection) -> float:
        frames, started = 0, time.monotonic()
        deadline = started + seconds
        while (left := deadline - time.monotonic()) > 0:
            try:
                message = await asyncio.wait_for(connection.read_message(), left)
            except TimeoutError:
                break
            if message is None:
                break
            frames += 1
        return frames / (time.monotonic() - started)

    rates = await asyncio.gather(*(count_frames(c) for c in connections))
    for connection in connections:
        connection.close()
    return list(rates)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="640x480,1280x720")
    parser.add_argument("--viewers", default="0,1,20", help="viewer counts, comma separated")
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--fps", type=float, default=10.0)
    parser.add_argument(
        "--viewer-process", nargs=3, metavar=("URL", "COUNT", "SECONDS"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.viewer_process:
        url, count, seconds = args.viewer_process
        print(json.dumps({"fps": asyncio.run(view(url, int(count), float(seconds)))}), flush=True)
        return 0
    rows: list[Row] = []
    for size in args.sizes.split(","):
        width, height = (int(n) for n in size.split("x"))
        with tempfile.TemporaryDirectory(prefix="camwatch-bench-") as workdir:
            process, port = start_server(width, height, args.fps, Path(workdir))
            try:
                time.sleep(2)  # past start-up
                for viewers in (int(n) for n in args.viewers.split(",")):
                    fps, cpu = measure(process.pid, port, viewers, args.seconds)
                    rows.append(Row(size, viewers, fps, cpu, rss_mb(process.pid)))
                    print(rows[-1].markdown(), file=sys.stderr, flush=True)
                    time.sleep(1)  # let the viewers' connections close
            finally:
                stop_process(process)
    load = os.getloadavg()[0]
    print(
        f"Demo source at {args.fps:g} fps, motion off, {args.seconds:g} s per row, "
        f"{os.cpu_count()} CPUs, load average {load:.1f} at the end.\n"
    )
    print(
        "| size | viewers | fps per viewer (min / median / max) | server CPU (% of one core) "
        "| server RSS |"
    )
    print("| --- | --- | --- | --- | --- |")
    for row in rows:
        print(row.markdown())
    return 0


if __name__ == "__main__":
    sys.exit(main())
