"""camwatch benchmark: CPU, memory, latency and frame share of the real server, plus `scan` speed.

    python3 bench/run.py --quick                 # a subset, a few minutes
    python3 bench/run.py                         # the full matrix
    python3 bench/run.py --output bench/RESULTS.md
    python3 bench/run.py --rtsp                  # only the RTSP rows (bench/rtsp.py)

Everything runs on 127.0.0.1 in separate processes: the camwatch server (`python -m camwatch`),
a stand-in MJPEG network camera (bench/mjpeg_source.py), the viewers (bench/viewers.py) and,
for comparison, the Motion daemon when it is installed. The RTSP rows (bench/rtsp.py) add a
GStreamer RTSP camera, Motion with `movie_passthrough on` and the `ffmpeg -c copy` floor.
See bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(BENCH))

import rtsp
from processes import free_port, stop_process
from procstat import Memory, ThreadMeter, UsageMeter, load_average

PYTHON = sys.executable
CONNECT_S = 2.0  # viewers connect and settle before the measured window starts


@dataclass(frozen=True)
class Scenario:
    """One camwatch server configuration; each is measured with several viewer counts."""

    source: str  # "demo" or "mjpeg"
    width: int
    height: int
    fps: float
    scene: str  # "still" (nothing recorded) or "moving" (an event being recorded)

    @property
    def size(self) -> str:
        return f"{self.width}x{self.height}"


@dataclass
class Row:
    scenario: Scenario
    viewers: int
    cpu: float
    rss: float
    client_cpu: float
    recording: bool
    result: dict[str, Any] = field(default_factory=dict)
    per_extra_viewer: float | None = None


# -- processes ---------------------------------------------------------------------------------


def port_open(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def wait_for(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if predicate():
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"timed out waiting for {what}")


def http_get(url: str, timeout: float = 5.0) -> bytes:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return bytes(response.read())


class MjpegSource:
    """bench/mjpeg_source.py in its own process."""

    def __init__(self, width: int, height: int, fps: float) -> None:
        self.process = subprocess.Popen(
            [
                PYTHON,
                str(BENCH / "mjpeg_source.py"),
                "--width",
                str(width),
                "--height",
                str(height),
                "--fps",
                str(fps),
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline().split()
        if not line or line[0] != "ready":
            stop_process(self.process)
            raise RuntimeError("the MJPEG source did not start")
        self.port = int(line[1])
        self.size = (width, height)

    def url(self, scene: str) -> str:
        return f"http://127.0.0.1:{self.port}/{scene}.mjpg"

    def stop(self) -> None:
        stop_process(self.process)


def camwatch_config(scenario: Scenario, source_url: str, data_dir: Path) -> str:
    motion = ""
    if scenario.source == "demo":
        # The demo scene cannot be told to move: a still scene is one where no frame counts as
        # motion (threshold 100), a moving one where sensor noise does (pixel threshold 1).
        motion = (
            "threshold = 100.0\n"
            if scenario.scene == "still"
            else "threshold = 0.0\npixel_threshold = 1\n"
        )
    return f"""
[server]
host = "127.0.0.1"
port = 8100
data_dir = "{data_dir}"
log_level = "warning"

[[cameras]]
name = "cam"
source = "{source_url if scenario.source == "mjpeg" else "demo"}"
width = {scenario.width}
height = {scenario.height}
fps = {scenario.fps}

[cameras.motion]
{motion}"""


class CamwatchServer:
    """`python -m camwatch` with a temporary config and data directory."""

    def __init__(
        self,
        scenario: Scenario,
        source_url: str,
        workdir: Path,
        *,
        root: Path = ROOT,
        extra_env: dict[str, str] | None = None,
    ) -> None:
        """`root` is the checkout whose camwatch runs (bench/memory.py compares two)."""
        self.port = free_port()
        data_dir = workdir / "data"
        config = workdir / "camwatch.toml"
        config.write_text(camwatch_config(scenario, source_url, data_dir))
        self.log = open(workdir / "camwatch.log", "w")  # noqa: SIM115 - open while it runs
        env = {**os.environ, "PYTHONPATH": str(root), **(extra_env or {})}
        # bench/thread_names.py runs `python -m camwatch` with OS thread names (per-thread CPU)
        command = [
            str(BENCH / "thread_names.py"),
            "--config",
            str(config),
            "--port",
            str(self.port),
        ]
        self.process = subprocess.Popen(
            [PYTHON, *command],
            cwd=root,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        self.base = f"http://127.0.0.1:{self.port}"
        try:
            wait_for(
                lambda: http_get(self.base + "/snapshot.jpg")[:2] == b"\xff\xd8",
                60,
                "camwatch's first frame",
            )
        except RuntimeError:
            self.stop()
            raise

    def camera(self) -> dict[str, Any]:
        cameras: list[dict[str, Any]] = json.loads(http_get(self.base + "/api/cameras"))
        return cameras[0]

    def stop(self) -> None:
        stop_process(self.process)
        self.log.close()


MOTION_CONFIG = """daemon off
setup_mode off
log_file {dir}/motion.log
log_level 4
target_dir {dir}/clips
netcam_url {url}
width {width}
height {height}
framerate {fps}
text_left CAMERA1
text_right %Y-%m-%d\\n%T-%q
threshold 1500
despeckle_filter EedDl
minimum_motion_frames 1
event_gap 60
pre_capture 3
post_capture 0
picture_output off
movie_output on
movie_max_time 60
movie_quality 45
movie_codec mp4
webcontrol_port 0
stream_port {stream_port}
stream_localhost on
stream_maxrate {fps}
stream_quality 80
"""


class MotionDaemon:
    """Debian's `motion`, reading the same MJPEG source, with a temporary config."""

    def __init__(self, source_url: str, width: int, height: int, fps: float, workdir: Path) -> None:
        executable = shutil.which("motion")
        if executable is None:
            raise RuntimeError("motion is not installed (apt-get install motion)")
        self.stream_port = free_port()
        (workdir / "clips").mkdir(parents=True, exist_ok=True)
        config = workdir / "motion.conf"
        config.write_text(
            MOTION_CONFIG.format(
                dir=workdir,
                url=source_url,
                width=width,
                height=height,
                fps=round(fps),
                stream_port=self.stream_port,
            )
        )
        self.clips = workdir / "clips"
        self.log = open(workdir / "motion.out", "w")  # noqa: SIM115 - open while Motion runs
        self.process = subprocess.Popen(
            [executable, "-n", "-c", str(config)], stdout=self.log, stderr=subprocess.STDOUT
        )
        self.stream_url = f"http://127.0.0.1:{self.stream_port}/"

    def recording(self) -> bool:
        return any(path.stat().st_size > 0 for path in self.clips.rglob("*.mp4"))

    def movies(self) -> int:
        """Movie files Motion has started (one per event)."""
        return sum(1 for _ in self.clips.rglob("*.mp4"))

    def stop(self) -> None:
        stop_process(self.process)
        self.log.close()


def start_viewers(
    base: str, count: int, start: float, end: float, fps: float, mjpeg_url: str | None = None
) -> subprocess.Popen[str]:
    """Half websocket, half MJPEG (an odd one out is MJPEG); only MJPEG with `mjpeg_url`."""
    ws, mjpeg = (0, count) if mjpeg_url else (count // 2, count - count // 2)
    ws_url = base.replace("http://", "ws://") + "/webcam?meta=1"
    command = [
        PYTHON,
        str(BENCH / "viewers.py"),
        "--ws-url",
        ws_url,
        "--ws",
        str(ws),
        "--mjpeg-url",
        mjpeg_url or base + "/stream.mjpg",
        "--mjpeg",
        str(mjpeg),
        "--start",
        str(start),
        "--end",
        str(end),
        "--fps",
        str(fps),
    ]
    return subprocess.Popen(command, stdout=subprocess.PIPE, text=True)


def finish_viewers(process: subprocess.Popen[str], timeout: float) -> dict[str, Any]:
    try:
        out, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        return {"errors": ["viewers timed out"]}
    result: dict[str, Any] = json.loads(out) if out.strip() else {"errors": ["no output"]}
    return result


# -- measurements ------------------------------------------------------------------------------


def measure_window(
    pids: list[int],
    duration: float,
    viewer_commands: list[Any],
    thread_meters: Sequence[ThreadMeter] = (),
) -> tuple[list[Any], list[dict[str, Any]], list[float]]:
    """Start the viewers, measure `pids` (and per thread, `thread_meters`) over the window, and
    collect the viewers' results.

    Returns (usage per pid, viewer results, viewer-process CPU %)."""
    start = time.time() + CONNECT_S
    end = start + duration
    viewers = [command(start, end) for command in viewer_commands]
    meters = [UsageMeter(pid) for pid in pids]
    client_meters = [UsageMeter(v.pid) for v in viewers]
    time.sleep(max(0.0, start - time.time()))
    for meter in meters + client_meters:
        meter.start()
    for thread_meter in thread_meters:
        thread_meter.start()
    while time.time() < end:
        time.sleep(min(0.5, max(0.0, end - time.time())))
        for meter in meters:
            meter.sample()
    usages = [meter.stop() for meter in meters]
    for thread_meter in thread_meters:
        thread_meter.stop()
    client_cpu = []
    for meter in client_meters:
        try:
            client_cpu.append(meter.stop().cpu_percent)
        except OSError:
            client_cpu.append(0.0)
    results = [finish_viewers(v, duration + 30) for v in viewers]
    return usages, results, client_cpu


def run_scenario(
    scenario: Scenario,
    viewer_counts: list[int],
    duration: float,
    source: MjpegSource | None,
    workdir: Path,
) -> list[Row]:
    url = source.url(scenario.scene) if source is not None else "demo"
    server = CamwatchServer(scenario, url, workdir)
    rows: list[Row] = []
    try:
        if scenario.scene == "moving":
            wait_for(lambda: server.camera()["recording"], 30, "the event to start")
        else:
            time.sleep(2.0)
        for count in viewer_counts:
            commands = []
            if count:
                commands.append(
                    lambda s, e, c=count: start_viewers(server.base, c, s, e, scenario.fps)
                )
            usages, results, client_cpu = measure_window([server.process.pid], duration, commands)
            camera = server.camera()
            rows.append(
                Row(
                    scenario,
                    count,
                    usages[0].cpu_percent,
                    usages[0].rss_mb,
                    sum(client_cpu),
                    bool(camera["recording"]),
                    results[0] if results else {"capture_fps": camera["fps"]},
                )
            )
            print(format_row(rows[-1]), flush=True)
    finally:
        server.stop()
    one = next((r for r in rows if r.viewers == 1), None)
    for row in rows:
        if one is not None and row.viewers > 1:
            row.per_extra_viewer = (row.cpu - one.cpu) / (row.viewers - 1)
    return rows


COMPARE_SCENES = ("still", "intermittent", "crowd")
SCENE_NAMES = {
    "still": "still",
    "intermittent": "5 s of movement every 15 s, recording",
    "crowd": "people walking all the time, recording",
    "moving": "two objects crossing all the time, recording",
}
WARM_UP_S = 5.0  # both connected, detectors warmed up, events (if any) started


@dataclass
class MotionComparison:
    scene: str
    run: int
    camwatch: Row
    motion_cpu: float
    motion_rss: float
    motion_result: dict[str, Any]
    motion_recording: bool
    camwatch_threads: dict[str, float]  # % of one core per kind of thread
    motion_threads: dict[str, float]
    camwatch_events: int
    motion_movies: int
    load: str  # load average at the end of the window
    camwatch_memory: Memory = field(default_factory=Memory)
    motion_memory: Memory = field(default_factory=Memory)

    @property
    def ratio(self) -> float:
        return self.camwatch.cpu / self.motion_cpu if self.motion_cpu else float("inf")


def events_so_far(server: CamwatchServer) -> int:
    """Events camwatch has indexed (recorded or recording)."""
    try:
        events = json.loads(http_get(server.base + "/api/events?limit=100"))
    except (OSError, ValueError):
        return 0
    return len(events) if isinstance(events, list) else 0


def compare_scene(
    source: MjpegSource, scene: str, run: int, fps: float, duration: float, workdir: Path
) -> MotionComparison:
    """camwatch and Motion side by side on the same source, one MJPEG viewer each, same window."""
    width, height = source.size
    scenario = Scenario("mjpeg", width, height, fps, scene)
    scene_dir = workdir / f"side-by-side-{scene}-{run}"
    (scene_dir / "camwatch").mkdir(parents=True)
    (scene_dir / "motion").mkdir(parents=True)
    server = CamwatchServer(scenario, source.url(scene), scene_dir / "camwatch")
    motion = MotionDaemon(source.url(scene), width, height, fps, scene_dir / "motion")
    try:
        wait_for(lambda port=motion.stream_port: port_open(port), 30, "Motion's stream")
        time.sleep(WARM_UP_S)
        meters = [ThreadMeter(server.process.pid), ThreadMeter(motion.process.pid)]
        usages, results, client_cpu = measure_window(
            [server.process.pid, motion.process.pid],
            duration,
            [
                lambda s, e, base=server.base: start_viewers(base, 1, s, e, fps),
                lambda s, e, url=motion.stream_url: start_viewers("", 1, s, e, fps, mjpeg_url=url),
            ],
            meters,
        )
        threads = [meter.last for meter in meters]
        camera = server.camera()
        comparison = MotionComparison(
            scene,
            run,
            Row(
                scenario,
                1,
                usages[0].cpu_percent,
                usages[0].rss_mb,
                client_cpu[0],
                bool(camera["recording"]),
                results[0],
            ),
            usages[1].cpu_percent,
            usages[1].rss_mb,
            results[1],
            motion.recording(),
            {k: 100 * v / duration for k, v in threads[0].items()},
            {k: 100 * v / duration for k, v in threads[1].items()},
            events_so_far(server),
            motion.movies(),
            load_average(),
            usages[0].memory,
            usages[1].memory,
        )
    finally:
        motion.stop()
        server.stop()
    print(format_comparison(comparison), flush=True)
    return comparison


def format_comparison(c: MotionComparison) -> str:
    return (
        f"| {c.run} | {SCENE_NAMES.get(c.scene, c.scene)} | {c.camwatch.cpu:.2f} "
        f"| {c.motion_cpu:.2f} "
        f"| {c.ratio:.2f} | {c.camwatch.rss:.0f} | {c.motion_rss:.0f} | {c.camwatch_events} "
        f"| {c.motion_movies} | {percent(c.camwatch.result.get('share_mean'))} "
        f"| {percent(c.motion_result.get('share_mean'))} | {c.load} |"
    )


COMPARISON_HEAD = (
    "| run | scene | camwatch CPU % | Motion CPU % | ratio | camwatch RSS MB | Motion RSS MB "
    "| camwatch events | Motion movies | camwatch viewer frames % | Motion viewer frames % "
    "| load average at the end |\n|" + "---|" * 12
)


def compare_with_motion(
    source: MjpegSource, scenes: list[str], repeats: int, fps: float, duration: float, workdir: Path
) -> list[MotionComparison]:
    """Every scene side by side, `repeats` rounds (scenes interleaved, so slow drifts in the
    machine's load spread over all of them)."""
    print(COMPARISON_HEAD, flush=True)
    return [
        compare_scene(source, scene, run, fps, duration, workdir)
        for run in range(1, repeats + 1)
        for scene in scenes
    ]


# -- scan ----------------------------------------------------------------------------------------


def make_scan_video(path: Path, width: int, height: int, fps: int, seconds: int) -> None:
    """A file with a still textured scene and objects crossing during two stretches."""
    from fractions import Fraction

    import av
    import numpy as np
    from mjpeg_source import background, draw_object, with_noise

    rng = np.random.default_rng(3)
    scene = background(width, height, rng)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"preset": "veryfast", "crf": "23"}
        for i in range(fps * seconds):
            t = i / fps
            image = with_noise(scene, rng) if i % 5 == 0 else scene.copy()
            for begin in (seconds * 0.2, seconds * 0.6):
                if begin <= t < begin + 6:
                    draw_object(image, (t - begin) / 6, 0.85, (40, 50, 160))
            frame = av.VideoFrame.from_ndarray(image, format="bgr24")
            frame.pts, frame.time_base = i, Fraction(1, fps)
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)


def make_crowd_video(path: Path, width: int, height: int, fps: int, seconds: int) -> None:
    """A file of people walking across a garden all the time (bench/motion_clips.py's Crowd)."""
    from fractions import Fraction

    import av
    from motion_clips import Clip, Crowd

    clip = Clip("crowd", "", seconds, [Crowd()], width=width, height=height, fps=fps)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"preset": "veryfast", "crf": "23"}
        for i, (_, image) in enumerate(clip.frames()):
            frame = av.VideoFrame.from_ndarray(image, format="bgr24")
            frame.pts, frame.time_base = i, Fraction(1, fps)
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)


@dataclass
class ScanResult:
    name: str
    fps: int
    seconds: int
    wall: float
    cpu: float
    events: int
    runs: int = 1  # wall and cpu are the medians of this many runs

    @property
    def speed(self) -> float:
        return self.seconds / self.wall


def time_scan(name: str, video: Path, fps: int, seconds: int) -> ScanResult:
    """`python -m camwatch scan VIDEO --json`: wall and CPU time, interpreter start included."""
    before = os.times()
    started = time.perf_counter()
    out = subprocess.run(
        [PYTHON, "-m", "camwatch", "scan", str(video), "--json"],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    ).stdout
    wall = time.perf_counter() - started
    after = os.times()
    cpu = (after.children_user - before.children_user) + (
        after.children_system - before.children_system
    )
    result = ScanResult(name, fps, seconds, wall, cpu, len(json.loads(out)["events"]))
    print(
        f"scan: {seconds} s of {name} in {wall:.2f} s "
        f"({result.speed:.1f}x real time, {result.events} events)",
        flush=True,
    )
    return result


def bench_scan(workdir: Path, seconds: int, repeats: int = 3) -> list[ScanResult]:
    """A mostly still 1280x720 file with two events, and a busy 640x480 one (a crowd), each
    scanned `repeats` times, interleaved: the medians of wall and CPU time."""
    still = workdir / "scan-1280x720-10fps.mp4"
    make_scan_video(still, 1280, 720, 10, seconds)
    crowd = workdir / "scan-crowd-640x480-10fps.mp4"
    make_crowd_video(crowd, 640, 480, 10, seconds)
    videos = [
        ("1280x720 10 fps H.264, two crossings", still),
        ("640x480 10 fps H.264, a crowd walking all the time", crowd),
    ]
    runs = [[time_scan(name, video, 10, seconds) for name, video in videos] for _ in range(repeats)]
    results = []
    for i, (name, _) in enumerate(videos):
        mine = [round_results[i] for round_results in runs]
        wall = statistics.median(r.wall for r in mine)
        cpu = statistics.median(r.cpu for r in mine)
        results.append(ScanResult(name, 10, seconds, wall, cpu, mine[0].events, len(mine)))
    return results


# -- report --------------------------------------------------------------------------------------


def fmt(value: Any, digits: int = 1, suffix: str = "") -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}{suffix}"
    return f"{value}{suffix}"


def percent(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}"


TABLE_HEAD = (
    "| source | size | fps | scene | rec | viewers | CPU % | RSS MB | +CPU %/viewer "
    "| capture fps | p50 ms | p99 ms | min share % | mean share % | client CPU % | "
    "notes |\n|" + "---|" * 16
)


COLUMNS = (
    "Columns: CPU % is of one core for the server process (all threads, from "
    "/proc/PID/stat); +CPU %/viewer is (CPU - CPU with 1 viewer) / (viewers - 1); "
    "latency is from capture (the frame's timestamp) to the whole frame at the client; "
    "share is frames received / frames captured in the window; client CPU % is the "
    "viewers process."
)


def format_row(row: Row) -> str:
    s, r = row.scenario, row.result
    notes = "; ".join(r.get("errors", []))
    if r.get("bad_frames"):
        notes = (notes + "; " if notes else "") + f"{r['bad_frames']} bad frames"
    if row.viewers and r.get("connected", row.viewers) != row.viewers:
        notes = (notes + "; " if notes else "") + f"{r.get('connected')} connected"
    return (
        f"| {s.source} | {s.size} | {s.fps:g} | {s.scene} | {'yes' if row.recording else 'no'}"
        f" | {row.viewers} | {row.cpu:.1f} | {row.rss:.0f} | {fmt(row.per_extra_viewer, 3)} "
        f"| {fmt(r.get('capture_fps'))} | {fmt(r.get('latency_p50_ms'))} "
        f"| {fmt(r.get('latency_p99_ms'))} | {percent(r.get('share_min'))} "
        f"| {percent(r.get('share_mean'))} | {row.client_cpu:.1f} | {notes} |"
    )


def machine_description() -> str:
    model = "unknown CPU"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        total_kb = int(f.readline().split()[1])
    return (
        f"{os.cpu_count()} CPUs ({model}), {total_kb / 1024 / 1024:.1f} GB RAM, "
        f"{platform.system()} {platform.release()}, Python {platform.python_version()}"
    )


def git_revision() -> str:
    try:
        return subprocess.run(
            ["git", "describe", "--always", "--dirty"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        ).stdout.strip()
    except OSError:
        return "unknown"


def comparison_report(comparisons: list[MotionComparison], seconds: float) -> list[str]:
    """Medians per scene, the per-thread split, and every run."""
    scenes = list(dict.fromkeys(c.scene for c in comparisons))
    runs = max(c.run for c in comparisons)
    lines = [
        "## Side by side with Motion",
        "",
        f"Same 640x480 10 fps MJPEG source, one MJPEG viewer each, measured in the same "
        f"{seconds:g} s window; CPU is user + system seconds of the whole process over the "
        f"window (% of one core); median of {runs} runs (scenes interleaved); ratio is the "
        "median of each run's camwatch / Motion.",
        "",
        "| scene | camwatch CPU % | Motion CPU % | ratio | camwatch RSS MB | Motion RSS MB "
        "| camwatch events / Motion movies per run |",
        "|---|---|---|---|---|---|---|",
    ]
    for scene in scenes:
        mine = [c for c in comparisons if c.scene == scene]
        cpu, motion_cpu = median(c.camwatch.cpu for c in mine), median(c.motion_cpu for c in mine)
        rss, motion_rss = median(c.camwatch.rss for c in mine), median(c.motion_rss for c in mine)
        events = median(c.camwatch_events for c in mine), median(c.motion_movies for c in mine)
        lines.append(
            f"| {SCENE_NAMES.get(scene, scene)} | {cpu:.2f} | {motion_cpu:.2f} "
            f"| **{median(c.ratio for c in mine):.2f}** | {rss:.0f} | {motion_rss:.0f} "
            f"| {events[0]:g} / {events[1]:g} |"
        )
    lines += [
        "",
        "Per thread (% of one core, median over the runs; `ended`: threads that ended inside "
        "the window, such as a finished clip's writer):",
        "",
    ]
    for who, threads_of in (
        ("camwatch", lambda c: c.camwatch_threads),
        ("Motion", lambda c: c.motion_threads),
    ):
        names = sorted({n for c in comparisons for n in threads_of(c)})
        lines += [
            f"| {who} thread | " + " | ".join(SCENE_NAMES.get(s, s) for s in scenes) + " |",
            "|---|" + "---|" * len(scenes),
        ]
        for name in names:
            cells = [
                median(threads_of(c).get(name, 0.0) for c in comparisons if c.scene == scene)
                for scene in scenes
            ]
            if max(cells) >= 0.05:
                lines.append(f"| {name} | " + " | ".join(f"{v:.2f}" for v in cells) + " |")
        lines.append("")
    lines += memory_report(comparisons, scenes)
    lines += ["Every run:", "", COMPARISON_HEAD] + [format_comparison(c) for c in comparisons]
    return [*lines, ""]


def memory_report(comparisons: list[MotionComparison], scenes: list[str]) -> list[str]:
    """Medians of /proc/PID/smaps_rollup at the end of each window, per scene and program."""
    lines = [
        "Memory at the end of the window (MB, /proc/PID/smaps_rollup, median over the runs; "
        "file-backed: libraries mapped from disk, which any other process using them shares):",
        "",
        "| scene | program | RSS | PSS | anonymous | file-backed | private |",
        "|---|---|---|---|---|---|---|",
    ]
    for scene in scenes:
        mine = [c for c in comparisons if c.scene == scene]
        for who, memory_of_run in (
            ("camwatch", lambda c: c.camwatch_memory),
            ("Motion", lambda c: c.motion_memory),
        ):
            figures = [
                median(getattr(memory_of_run(c), name) for c in mine)
                for name in ("rss", "pss", "anonymous", "file_backed", "private")
            ]
            lines.append(
                f"| {SCENE_NAMES.get(scene, scene)} | {who} | "
                + " | ".join(f"{v:.0f}" for v in figures)
                + " |"
            )
    return [*lines, ""]


def median(values: Iterator[float] | list[float]) -> float:
    return statistics.median(list(values))


def report(
    args: argparse.Namespace,
    rows: list[Row],
    comparisons: list[MotionComparison],
    scan_results: list[ScanResult],
    load_before: str,
    started: float,
    rtsp_rows: rtsp.Rows | None = None,
) -> str:
    lines = [
        "# camwatch benchmark results",
        "",
        f"- date: {time.strftime('%Y-%m-%d %H:%M %Z', time.localtime(started))}",
        f"- machine: {machine_description()}",
        f"- camwatch revision: {git_revision()}",
        f"- load average (1, 5, 15 min) before: {load_before}; after: {load_average()}",
        f"- command: `python3 bench/run.py {' '.join(sys.argv[1:])}`",
        f"- each row: {args.duration:g} s measured after {CONNECT_S:g} s for viewers to connect",
        "",
    ]
    if rows:
        lines += ["## Server", "", TABLE_HEAD] + [format_row(row) for row in rows] + [""]
    if comparisons:
        lines += comparison_report(comparisons, args.compare_seconds)
    if rtsp_rows:
        lines += [
            "## RTSP H.264 cameras: camwatch vs Motion passthrough vs `ffmpeg -c copy`",
            "",
            rtsp.report(rtsp_rows, args.rtsp_seconds, args.rtsp_repeats),
            "",
        ]
    if scan_results:
        lines += [
            "## `camwatch scan`",
            "",
            f"Median of {scan_results[0].runs} runs of `python -m camwatch scan VIDEO --json` "
            "(interpreter start included).",
            "",
            "| video | length s | wall s | CPU s | frames/s | x real time "
            "| x real time per CPU second | events |",
            "|---|---|---|---|---|---|---|---|",
        ]
        lines += [
            f"| {r.name} | {r.seconds} | {r.wall:.2f} | {r.cpu:.2f} "
            f"| {r.seconds * r.fps / r.wall:.0f} | {r.speed:.1f} | {r.seconds / r.cpu:.1f} "
            f"| {r.events} |"
            for r in scan_results
        ]
        lines.append("")
    if rows or comparisons:
        lines += [COLUMNS, ""]
    return "\n".join(lines)


# -- the matrix ----------------------------------------------------------------------------------


def parse_list(text: str, kind: type) -> list[Any]:
    return [kind(item) for item in text.split(",") if item]


def scenarios(args: argparse.Namespace) -> Iterator[tuple[Scenario, list[int]]]:
    if args.quick:
        yield Scenario("mjpeg", 640, 480, 10, "still"), [0, 1]
        yield Scenario("mjpeg", 640, 480, 10, "moving"), [0, 1]
        yield Scenario("mjpeg", 1280, 720, 30, "still"), [1, 10, 100]
        yield Scenario("demo", 640, 480, 10, "still"), [0, 1]
        yield Scenario("demo", 640, 480, 10, "moving"), [0, 1]
        return
    for source in args.sources:
        for size in args.sizes:
            width, height = (int(v) for v in size.split("x"))
            for fps in args.fps:
                for scene in args.scenes:
                    yield Scenario(source, width, height, fps, scene), args.viewers


Sources = dict[tuple[int, int, float], MjpegSource]


def shared_source(sources: Sources, width: int, height: int, fps: float) -> MjpegSource:
    """One MJPEG camera per size and rate, started on first use and reused by later rows."""
    key = (width, height, fps)
    if key not in sources:
        sources[key] = MjpegSource(*key)
    return sources[key]


def run_server_matrix(args: argparse.Namespace, workdir: Path, sources: Sources) -> list[Row]:
    print(TABLE_HEAD, flush=True)
    rows: list[Row] = []
    for index, (scenario, counts) in enumerate(scenarios(args)):
        source = None
        if scenario.source == "mjpeg":
            source = shared_source(sources, scenario.width, scenario.height, scenario.fps)
        scenario_dir = workdir / f"scenario-{index}"
        scenario_dir.mkdir()
        rows += run_scenario(scenario, counts, args.duration, source, scenario_dir)
    return rows


def run_motion_comparison(
    args: argparse.Namespace, workdir: Path, sources: Sources
) -> list[MotionComparison]:
    if shutil.which("motion") is None:
        print("motion is not installed: skipping the comparison", flush=True)
        return []
    source = shared_source(sources, 640, 480, 10.0)
    return compare_with_motion(
        source, args.compare_scenes, args.repeats, 10.0, args.compare_seconds, workdir
    )


def run_rtsp_rows(args: argparse.Namespace, workdir: Path) -> rtsp.Rows:
    """bench/rtsp.py's side-by-side rows: camwatch, Motion (`movie_passthrough on`) and the
    `ffmpeg -c copy` floors on one GStreamer RTSP camera per size and rate."""
    folder = workdir / "rtsp"
    folder.mkdir()
    sizes, rates = args.rtsp_sizes, args.rtsp_fps
    if args.quick and not args.rtsp:
        sizes, rates = ["640x480"], [10]
    return rtsp.run_matrix(sizes, rates, args.rtsp_seconds, args.rtsp_repeats, folder)


def add_rtsp_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--rtsp", action="store_true", help="only the RTSP rows (camwatch vs Motion passthrough)"
    )
    parser.add_argument("--no-rtsp", action="store_true", help="skip the RTSP rows")
    parser.add_argument(
        "--rtsp-sizes",
        type=lambda t: parse_list(t, str),
        default=["640x480", "1280x720", "1920x1080"],
    )
    parser.add_argument("--rtsp-fps", type=lambda t: parse_list(t, int), default=[10, 15])
    parser.add_argument(
        "--rtsp-seconds", type=float, default=20.0, help="measured seconds per RTSP job"
    )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="a subset that runs in minutes")
    parser.add_argument("--sources", type=lambda t: parse_list(t, str), default=["demo", "mjpeg"])
    parser.add_argument(
        "--sizes", type=lambda t: parse_list(t, str), default=["640x480", "1280x720"]
    )
    parser.add_argument("--fps", type=lambda t: parse_list(t, float), default=[10.0, 30.0])
    parser.add_argument("--viewers", type=lambda t: parse_list(t, int), default=[0, 1, 10, 50, 100])
    parser.add_argument("--scenes", type=lambda t: parse_list(t, str), default=["still", "moving"])
    parser.add_argument(
        "--duration",
        type=float,
        default=None,
        help="measured seconds per row (default 10, 6 with --quick)",
    )
    parser.add_argument(
        "--compare-scenes",
        type=lambda t: parse_list(t, str),
        default=list(COMPARE_SCENES),
        help="scenes side by side with Motion (still, intermittent, crowd, moving)",
    )
    parser.add_argument(
        "--compare-seconds",
        type=float,
        default=30.0,
        help="measured seconds per side-by-side row (default 30: two intermittent periods)",
    )
    parser.add_argument("--repeats", type=int, default=3, help="rounds of the side-by-side rows")
    parser.add_argument("--no-motion", action="store_true", help="skip the Motion comparison")
    parser.add_argument("--no-scan", action="store_true", help="skip the scan benchmark")
    parser.add_argument("--no-server", action="store_true", help="skip the server matrix")
    parser.add_argument(
        "--scan-seconds",
        type=int,
        default=None,
        help="length of the scan test video (default 60, 30 with --quick)",
    )
    add_rtsp_arguments(parser)
    parser.add_argument(
        "--scan-repeats", type=int, default=3, help="runs of each scan (median; default 3)"
    )
    parser.add_argument("--output", help="also write the report (Markdown) to this file")
    args = parser.parse_args()
    if args.rtsp:  # the RTSP rows alone
        args.no_server = args.no_motion = args.no_scan = True
    args.rtsp_repeats = 1 if args.quick and not args.rtsp else args.repeats
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # stop the child processes too
    args.duration = args.duration or (6.0 if args.quick else 10.0)
    started = time.time()
    load_before = load_average()
    print(f"load average before: {load_before}", flush=True)
    rows: list[Row] = []
    comparisons: list[MotionComparison] = []
    scan_results: list[ScanResult] = []
    rtsp_rows: rtsp.Rows = []
    with tempfile.TemporaryDirectory(prefix="camwatch-bench-") as tmp:
        workdir = Path(tmp)
        sources: Sources = {}
        try:
            if not args.no_server:
                rows = run_server_matrix(args, workdir, sources)
            if not args.no_motion:
                comparisons = run_motion_comparison(args, workdir, sources)
        finally:
            for source in sources.values():
                source.stop()
        if not args.no_rtsp:
            rtsp_rows = run_rtsp_rows(args, workdir)
        if not args.no_scan:
            scan_results = bench_scan(
                workdir, args.scan_seconds or (30 if args.quick else 60), args.scan_repeats
            )
    text = report(args, rows, comparisons, scan_results, load_before, started, rtsp_rows)
    print()
    print(text)
    if args.output:
        Path(args.output).write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
