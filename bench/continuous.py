"""Continuous recording cost: camwatch's record = "continuous" against `ffmpeg -c copy`.

    python3 bench/continuous.py                   # 1280x720 15 fps H.264 RTSP + MJPEG, 60 s a row
    python3 bench/continuous.py --seconds 20      # a quicker run

An H.264 (+AAC) camera is played by GStreamer's RTSP server (tests/helpers/rtsp_camera.py, run
with Debian's python3) on 127.0.0.1; the floor is `ffmpeg -rtsp_transport tcp -i URL -c copy`
into 60 s MP4 segments, the least any recorder can do. camwatch records the same stream into
segments with motion detection on (its decoder and detector run too) and with it off; an MJPEG
camera (bench/mjpeg_source.py) is recorded too (its frames are encoded once, to H.264). CPU is
utime+stime of the process over the window from /proc (100 % = one core); disk is the bytes the
segments grew by over the window, per hour. Each row runs `--runs` times: medians are printed.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(BENCH))

from processes import free_port, stop_process, wait_for_health
from procstat import UsageMeter, load_average

RTSP_CAMERA = ROOT / "tests" / "helpers" / "rtsp_camera.py"
SYSTEM_PYTHON = "/usr/bin/python3"


@dataclass
class Row:
    name: str
    cpu: list[float]
    bytes_per_hour: list[float]


def camera_file(path: Path, size: str, fps: int, seconds: int) -> Path:
    """A camera-like H.264 file: a noisy scene with a box crossing it, keyframes every 2 s,
    no B-frames, AAC audio."""
    width, height = (int(v) for v in size.split("x"))
    graph = (
        f"color=c=0x607080:s={size}:r={fps},noise=alls=6:allf=t[bg];"
        f"color=c=0x202020:s={width // 12}x{height // 3}:r={fps}[box];"
        f"[bg][box]overlay=x='mod(t*{width // 8},{width})':y=H/3:shortest=1[v]"
    )
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
         "-filter_complex", graph, "-map", "[v]", "-map", "0:a", "-t", str(seconds),
         "-c:v", "libx264", "-preset", "veryfast", "-profile:v", "main", "-bf", "0",
         "-g", str(2 * fps), "-pix_fmt", "yuv420p", "-b:v", "2500k",
         "-c:a", "aac", "-b:a", "64k", "-ac", "1", str(path)],
        check=True, timeout=600,
    )  # fmt: skip
    return path


def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*.mp4") if p.is_file())


def measure(process: subprocess.Popen[bytes], folder: Path, seconds: float) -> tuple[float, float]:
    """(CPU % of one core, bytes written per hour) over the window."""
    before = folder_bytes(folder)
    usage = UsageMeter(process.pid).over(seconds, interval=1.0)
    grown = folder_bytes(folder) - before
    return usage.cpu_percent, grown * 3600 / seconds


def ffmpeg_copy(url: str, folder: Path, warmup: float, seconds: float) -> tuple[float, float]:
    folder.mkdir(parents=True, exist_ok=True)
    process = subprocess.Popen(
        ["ffmpeg", "-v", "error", "-rtsp_transport", "tcp", "-i", url, "-map", "0", "-c", "copy",
         "-f", "segment", "-segment_time", "60", "-reset_timestamps", "1",
         str(folder / "seg%05d.mp4")],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        time.sleep(warmup)
        return measure(process, folder, seconds)
    finally:
        stop_process(process)


def camwatch(
    source: str,
    data: Path,
    *,
    motion: bool,
    fps: int,
    warmup: float,
    seconds: float,
    record: str = "continuous",
) -> tuple[float, float]:
    port = free_port()
    config = data / "camwatch.toml"
    data.mkdir(parents=True, exist_ok=True)
    config.write_text(f"""
[server]
host = "127.0.0.1"
port = {port}
data_dir = "{data}"
log_level = "warning"

[[cameras]]
name = "cam"
source = "{source}"
fps = {fps}
width = 1280
height = 720
record = "{record}"
segment_seconds = 60

[cameras.motion]
enabled = {"true" if motion else "false"}
""")
    process = subprocess.Popen(
        [sys.executable, "-m", "camwatch", "--config", str(config)], cwd=ROOT,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        wait_for_health(port, process)
        time.sleep(warmup)
        return measure(process, data / ("segments" if record == "continuous" else "clips"), seconds)
    finally:
        stop_process(process)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="measured window per row")
    parser.add_argument("--warmup", type=float, default=8.0)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--fps", type=int, default=15)
    parser.add_argument("--rows", default="0,1,2,3,4", help="which rows (0-4) to run")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="camwatch-continuous-"))
    length = int(args.seconds + args.warmup + 40)  # each client plays the file from its start
    video = camera_file(work / "camera.mp4", "1280x720", args.fps, length)
    rtsp_port, mjpeg_port = free_port(), free_port()
    rtsp = subprocess.Popen([SYSTEM_PYTHON, str(RTSP_CAMERA), str(rtsp_port), f"cam={video}:aac"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    mjpeg = subprocess.Popen(
        [sys.executable, str(BENCH / "mjpeg_source.py"), "--port", str(mjpeg_port),
         "--width", "1280", "--height", "720", "--fps", "10"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"rtsp://127.0.0.1:{rtsp_port}/cam"
    rows = [
        Row("`ffmpeg -c copy` (RTSP H.264 1280x720 15 fps + AAC), 60 s segments", [], []),
        Row("camwatch continuous, same camera, motion detection on", [], []),
        Row("camwatch continuous, same camera, motion detection off", [], []),
        Row("camwatch continuous, MJPEG camera 1280x720 10 fps, detection on", [], []),
        Row("camwatch events mode, same camera, detection off (no footage written)", [], []),
    ]
    chosen = [int(i) for i in args.rows.split(",")]
    try:
        time.sleep(2)
        for run in range(args.runs):
            mjpeg_url = f"http://127.0.0.1:{mjpeg_port}/moving.mjpg"
            timing = {"warmup": args.warmup, "seconds": args.seconds}
            jobs = [
                partial(ffmpeg_copy, url, work / f"ffmpeg{run}", args.warmup, args.seconds),
                partial(camwatch, url, work / f"on{run}", motion=True, fps=args.fps, **timing),
                partial(camwatch, url, work / f"off{run}", motion=False, fps=args.fps, **timing),
                partial(camwatch, mjpeg_url, work / f"mjpeg{run}", motion=True, fps=10, **timing),
                partial(camwatch, url, work / f"events{run}", motion=False, fps=args.fps,
                        record="events", **timing),
            ]  # fmt: skip
            for index in chosen:
                cpu, per_hour = jobs[index]()
                rows[index].cpu.append(cpu)
                rows[index].bytes_per_hour.append(per_hour)
    finally:
        stop_process(rtsp)
        stop_process(mjpeg)
    rows = [row for row in rows if row.cpu]
    floor = statistics.median(rows[0].cpu) or 1e-9
    print(f"{args.runs} runs of {args.seconds:g} s a row; load average {load_average()}\n")
    print("| recorder | CPU (% of one core, median) | runs | vs ffmpeg -c copy | disk per hour |")
    print("| --- | --- | --- | --- | --- |")
    for row in rows:
        cpu = statistics.median(row.cpu)
        runs = " / ".join(f"{c:.1f}" for c in row.cpu)
        gb = statistics.median(row.bytes_per_hour) / 1e9
        print(f"| {row.name} | {cpu:.1f} % | {runs} | {cpu / floor:.1f}x | {gb:.2f} GB |")


if __name__ == "__main__":
    main()
