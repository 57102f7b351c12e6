"""RTSP rows: camwatch against Motion 4.5 (movie_passthrough on) and the `ffmpeg -c copy` floor
on one H.264+AAC RTSP camera (GStreamer's RTSP server), in one run, one job after the other.

    python3 bench/rtsp.py                       # 640x480, 1280x720, 1920x1080 at 10 and 15 fps
    python3 bench/run.py --rtsp                 # the same rows, from the benchmark's entry point
    python3 bench/rtsp.py --sizes 640x480 --fps 10 --seconds 20
    python3 bench/rtsp.py --detection-off       # 1280x720 15 fps, detection off, vs the floor

The job: someone walking in the picture most of the time (so it is recorded), one MJPEG viewer
and, for camwatch, one MSE viewer (?format=mp4). Floor: `ffmpeg -c copy` into segments, and
the same plus decoding the video (one thread) as detection must: the target is camwatch at or
below Motion and within 3x of that.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(BENCH))

from processes import free_port, stop_process, wait_for_health
from procstat import ThreadMeter, UsageMeter, load_average

from tests.helpers.camera_files import walking_figure
from tests.helpers.rtsp_camera import RtspCamera

WARMUP_S = 6.0


@dataclass
class Measure:
    name: str
    cpu: list[float]
    rss: list[float]
    # camwatch's CPU per kind of thread (% of a core), one dict per window
    threads: list[dict[str, float]] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.cpu)

    def thread_medians(self) -> dict[str, float]:
        names = dict.fromkeys(name for split in self.threads for name in split)
        return {n: statistics.median(s.get(n, 0.0) for s in self.threads) for n in names}


# -- viewers (run as `python3 bench/rtsp.py --viewer KIND URL SECONDS`) ----------------------------


def mjpeg_viewer(url: str, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    with urllib.request.urlopen(url, timeout=10) as stream:
        while time.monotonic() < deadline and stream.read(65536):
            pass


def mse_viewer(url: str, seconds: float) -> None:
    import tornado.websocket

    async def run() -> None:
        connection = await tornado.websocket.websocket_connect(url)
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if await connection.read_message() is None:
                return
        connection.close()

    asyncio.run(run())


def viewer(kind: str, url: str, seconds: float) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, __file__, "--viewer", kind, url, str(seconds)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


# -- the jobs --------------------------------------------------------------------------------------


def measure(pid: int, seconds: float) -> tuple[float, float]:
    usage = UsageMeter(pid).over(seconds)
    return usage.cpu_percent, usage.rss_mb


def run_camwatch(
    url: str,
    fps: int,
    work: Path,
    seconds: float,
    detect_url: str = "",
    *,
    viewers_of: tuple[str, ...] = ("mjpeg", "mse"),
    extra: str = "",
    threads_out: list[dict[str, float]] | None = None,
) -> tuple[float, float]:
    port = free_port()
    config = work / "camwatch.toml"
    detect = f'detect_source = "{detect_url}"\n' if detect_url else ""
    config.write_text(
        f'[server]\nhost = "127.0.0.1"\nport = {port}\ndata_dir = "{work / "data"}"\n'
        f'[[cameras]]\nname = "cam"\nsource = "{url}"\nfps = {fps}\n{detect}{extra}'
    )
    log = open(work / "camwatch.log", "wb")  # noqa: SIM115 - open while it runs
    process = subprocess.Popen(
        # thread_names.py: `python -m camwatch` with OS thread names, for the per-thread split
        [sys.executable, str(BENCH / "thread_names.py"), "--config", str(config)],
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    viewers: list[subprocess.Popen[bytes]] = []
    try:
        wait_for_health(port, process, timeout=60)
        base = f"127.0.0.1:{port}/cameras/cam"
        urls = {"mjpeg": f"http://{base}/stream.mjpg", "mse": f"ws://{base}/ws?format=mp4"}
        viewers = [viewer(kind, urls[kind], WARMUP_S + seconds + 5) for kind in viewers_of]
        time.sleep(WARMUP_S)
        threads = ThreadMeter(process.pid)
        threads.start()
        usage = measure(process.pid, seconds)
        split = {name: 100 * spent / seconds for name, spent in threads.stop().items()}
        print(f"    camwatch threads (% of a core): {format_threads(split)}", flush=True)
        if threads_out is not None:
            threads_out.append(split)
        return usage
    finally:
        for v in viewers:
            stop_process(v)
        stop_process(process)
        log.close()


def format_threads(split: dict[str, float]) -> str:
    ordered = sorted(split.items(), key=lambda kv: -kv[1])
    return ", ".join(f"{name} {percent:.1f}" for name, percent in ordered if percent >= 0.05)


MOTION_CONFIG = """daemon off
setup_mode off
log_file {dir}/motion.log
log_level 4
target_dir {dir}/clips
netcam_url {url}
netcam_use_tcp on
width {width}
height {height}
framerate {fps}
threshold 1500
despeckle_filter EedDl
minimum_motion_frames 1
event_gap 60
pre_capture 3
post_capture 0
picture_output off
movie_output on
movie_passthrough on
movie_max_time 60
movie_codec mp4
webcontrol_port 0
stream_port {stream_port}
stream_localhost on
stream_maxrate {fps}
stream_quality 80
"""


def run_motion(
    url: str, width: int, height: int, fps: int, work: Path, seconds: float
) -> tuple[float, float]:
    stream_port = free_port()
    (work / "clips").mkdir(parents=True, exist_ok=True)
    config = work / "motion.conf"
    config.write_text(
        MOTION_CONFIG.format(
            dir=work, url=url, width=width, height=height, fps=fps, stream_port=stream_port
        )
    )
    log = open(work / "motion.out", "wb")  # noqa: SIM115 - open while it runs
    process = subprocess.Popen(
        ["motion", "-n", "-c", str(config)], stdout=log, stderr=subprocess.STDOUT
    )
    watcher: subprocess.Popen[bytes] | None = None
    try:
        time.sleep(2.0)
        watcher = viewer("mjpeg", f"http://127.0.0.1:{stream_port}/", WARMUP_S + seconds + 5)
        time.sleep(WARMUP_S)
        return measure(process.pid, seconds)
    finally:
        if watcher is not None:
            stop_process(watcher)
        stop_process(process)
        log.close()


def run_ffmpeg(url: str, work: Path, seconds: float, *, decode: bool) -> tuple[float, float]:
    out = work / ("decode" if decode else "copy")
    out.mkdir(parents=True, exist_ok=True)
    command = ["ffmpeg", "-v", "error", "-rtsp_transport", "tcp"]
    if decode:  # what detection costs at least: the video decoded on one thread, thrown away
        command += ["-threads", "1"]
    command += ["-i", url, "-map", "0", "-c", "copy", "-f", "segment", "-segment_time", "60"]
    command += [str(out / "seg%03d.mp4")]
    if decode:
        command += ["-map", "0:v", "-f", "null", "-"]
    process = subprocess.Popen(command, stdin=subprocess.DEVNULL)
    try:
        time.sleep(WARMUP_S)
        return measure(process.pid, seconds)
    finally:
        stop_process(process)


# -- the matrix ------------------------------------------------------------------------------------


def camera_file(folder: Path, size: str, fps: int, seconds: int) -> Path:
    """A camera-like stream: someone walking through the picture most of the time."""
    walks = tuple((1.0 + 6 * i, 6.0 + 6 * i) for i in range(seconds // 6))
    return walking_figure(
        folder / f"cam-{size}-{fps}.mp4",
        seconds=seconds,
        size=size,
        fps=fps,
        walks=walks,
        gop=2 * fps,
    )


def run_row(
    path: Path, size: str, fps: int, work: Path, seconds: float, repeats: int
) -> list[Measure]:
    width, height = (int(v) for v in size.split("x"))
    rtsp = RtspCamera(free_port(), {"cam": path}).start()
    url = rtsp.url("cam")
    results = {name: Measure(name, [], []) for name in ("camwatch", "motion", "copy", "decode")}
    threads = results["camwatch"].threads
    try:
        for round_ in range(repeats):
            jobs = {
                "camwatch": lambda d: run_camwatch(url, fps, d, seconds, threads_out=threads),
                "motion": lambda d: run_motion(url, width, height, fps, d, seconds),
                "copy": lambda d: run_ffmpeg(url, d, seconds, decode=False),
                "decode": lambda d: run_ffmpeg(url, d, seconds, decode=True),
            }
            for name, job in jobs.items():
                if name == "motion" and shutil.which("motion") is None:
                    continue
                folder = work / f"{size}-{fps}-{name}-{round_}"
                folder.mkdir(parents=True)
                cpu, rss = job(folder)
                results[name].cpu.append(cpu)
                results[name].rss.append(rss)
                print(f"  {size} {fps} fps {name}: {cpu:.1f}% CPU, {rss:.0f} MB", flush=True)
    finally:
        rtsp.stop()
    return list(results.values())


def run_detect_source(work: Path, seconds: float, repeats: int) -> str:
    """A 1920x1080 camera with a 640x360 substream as detect_source, against the 1920x1080
    stream alone and the substream alone (same scene, same walks)."""
    length = int(WARMUP_S + seconds + 20)
    main = camera_file(work, "1920x1080", 10, length)
    sub = camera_file(work, "640x360", 10, length)
    rtsp = RtspCamera(free_port(), {"main": main, "sub": sub}).start()
    jobs = {
        "1920x1080 alone": (rtsp.url("main"), ""),
        "1920x1080 recorded, 640x360 detect_source": (rtsp.url("main"), rtsp.url("sub")),
        "640x360 alone": (rtsp.url("sub"), ""),
    }
    cpu: dict[str, list[float]] = {name: [] for name in jobs}
    try:
        for round_ in range(repeats):
            for name, (url, detect) in jobs.items():
                folder = work / f"detect-{round_}-{len(cpu[name])}-{name.split()[0]}"
                folder.mkdir(parents=True, exist_ok=True)
                used, _ = run_camwatch(url, 10, folder, seconds, detect)
                cpu[name].append(used)
                print(f"  {name}: {used:.1f}% CPU", flush=True)
    finally:
        rtsp.stop()
    lines = ["| camwatch job (10 fps, recording, MJPEG + MSE viewer) | CPU |", "| --- | ---: |"]
    lines += [f"| {name} | {statistics.median(v):.1f}% |" for name, v in cpu.items()]
    return "\n".join(lines)


DETECTION_OFF = 'record = "continuous"\nsegment_seconds = 60\n[cameras.motion]\nenabled = false\n'
DETECTION_OFF_JOBS = {
    "camwatch continuous, detection off, 1 MSE viewer": ("mse",),
    "camwatch continuous, detection off, 1 MSE + 1 MJPEG viewer": ("mse", "mjpeg"),
}


def run_detection_off(work: Path, seconds: float, repeats: int) -> str:
    """1280x720 15 fps, continuous recording with detection off: with only an MSE viewer
    nothing needs pictures (nothing is decoded), against `ffmpeg -c copy` into segments; with
    an MJPEG viewer too, the video is decoded for it, against copy + decode."""
    path = camera_file(work, "1280x720", 15, int(WARMUP_S + seconds + 20))
    rtsp = RtspCamera(free_port(), {"cam": path}).start()
    url = rtsp.url("cam")
    jobs: dict[str, Callable[[Path], tuple[float, float]]] = {
        name: lambda d, kinds=kinds: run_camwatch(
            url, 15, d, seconds, viewers_of=kinds, extra=DETECTION_OFF
        )
        for name, kinds in DETECTION_OFF_JOBS.items()
    }
    jobs["`ffmpeg -c copy` into 60 s segments"] = lambda d: run_ffmpeg(
        url, d, seconds, decode=False
    )
    jobs["`ffmpeg -c copy` + decoding the video"] = lambda d: run_ffmpeg(
        url, d, seconds, decode=True
    )
    cpu: dict[str, list[float]] = {name: [] for name in jobs}
    try:
        for round_ in range(repeats):
            for index, (name, job) in enumerate(jobs.items()):
                folder = work / f"off-{round_}-{index}"
                folder.mkdir(parents=True)
                used, _ = job(folder)
                cpu[name].append(used)
                print(f"  {name}: {used:.1f}% CPU", flush=True)
    finally:
        rtsp.stop()
    lines = [
        f"1280x720 15 fps H.264+AAC, median of {repeats} x {seconds:g} s; load {load_average()}",
        "",
        "| job | CPU (% of a core, median) | runs |",
        "| --- | ---: | --- |",
    ]
    lines += [
        f"| {name} | {statistics.median(v):.1f}% | {' / '.join(f'{x:.1f}' for x in v)} |"
        for name, v in cpu.items()
    ]
    return "\n".join(lines)


Rows = list[tuple[str, int, list[Measure]]]


def run_matrix(
    sizes: list[str], rates: list[int], seconds: float, repeats: int, work: Path
) -> Rows:
    """Every size at every rate: camwatch, Motion and the floors, `repeats` interleaved rounds."""
    rows: Rows = []
    length = int(WARMUP_S + seconds + 20)  # each client plays the file from its start
    for size in sizes:
        for fps in rates:
            path = camera_file(work, size, fps, length)
            rows.append((size, fps, run_row(path, size, fps, work, seconds, repeats)))
    return rows


def report(rows: Rows, seconds: float, repeats: int) -> str:
    lines = [
        f"RTSP H.264+AAC camera, recording, 1 MJPEG viewer (+1 MSE viewer for camwatch); "
        f"median of {repeats} x {seconds:g} s windows, % of one core; load {load_average()}",
        "",
        "| camera | camwatch | Motion 4.5 passthrough | ffmpeg -c copy | copy + decode | "
        "camwatch / Motion | camwatch / (copy + decode) |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for size, fps, measures in rows:
        m = {x.name: x for x in measures}
        ours, floor = m["camwatch"].median, m["decode"].median
        motion = m["motion"].median if m["motion"].cpu else float("nan")
        lines.append(
            f"| {size} {fps} fps | {ours:.1f}% ({statistics.median(m['camwatch'].rss):.0f} MB) "
            f"| {motion:.1f}% | {m['copy'].median:.1f}% | {floor:.1f}% "
            f"| {ours / motion:.2f} | {ours / floor:.2f} |"
        )
    lines += ["", "camwatch per thread (% of a core, medians):", ""]
    lines += [
        f"- {size} {fps} fps: {format_threads(m.thread_medians())}"
        for size, fps, measures in rows
        for m in measures
        if m.name == "camwatch" and m.threads
    ]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--viewer", nargs=3, metavar=("KIND", "URL", "SECONDS"))
    parser.add_argument("--sizes", default="640x480,1280x720,1920x1080")
    parser.add_argument("--fps", default="10,15")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--detect-source", action="store_true", help="only the detect_source rows")
    parser.add_argument(
        "--detection-off", action="store_true", help="only the detection-off rows (copy floor)"
    )
    args = parser.parse_args()
    if args.viewer:
        kind, url, seconds = args.viewer
        (mjpeg_viewer if kind == "mjpeg" else mse_viewer)(url, float(seconds))
        return 0
    with tempfile.TemporaryDirectory(prefix="camwatch-rtsp-bench-") as tmp:
        work = Path(tmp)
        if args.detect_source:
            print(run_detect_source(work, args.seconds, args.repeats))
            return 0
        if args.detection_off:
            print(run_detection_off(work, args.seconds, args.repeats))
            return 0
        sizes, rates = args.sizes.split(","), [int(f) for f in args.fps.split(",")]
        rows = run_matrix(sizes, rates, args.seconds, args.repeats, work)
    print(report(rows, args.seconds, args.repeats))
    return 0


if __name__ == "__main__":
    sys.exit(main())
